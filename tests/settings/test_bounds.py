"""Every settings value within bounds: each key's floor and ceiling, numbers, URLs, databases and deep nesting.

Whatever the file holds, loading it ends in a value or in ``FILE: KEY: message (line N)``, never a traceback; the
``monitor check`` cases run the real command line as a subprocess.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings.config import DATABASE_URL_ENV, load_settings
from tests.daemon import monitor

FEED = '[[feeds]]\nname = "world"\nurl = "http://127.0.0.1:1/feed.xml"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ or {})
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[scheduler]\npoll_interval = "9s"', "scheduler.poll_interval: 9s is too short: the least is 10s, since"),
        ('[scheduler]\npoll_interval = "8d"', "scheduler.poll_interval: 8d is too long: the most is 7d (line 2)"),
        ("[scheduler]\npoll_interval = 1e308", "scheduler.poll_interval: 1e+308s is too long: the most is 7d"),
        ("[scheduler]\npoll_interval = inf", "scheduler.poll_interval: duration inf is not a finite number"),
        ("[scheduler]\npoll_interval = -inf", "scheduler.poll_interval: duration -inf is not a finite number"),
        ("[scheduler]\npoll_interval = nan", "scheduler.poll_interval: duration nan is not a finite number"),
        (
            '[scheduler]\ndelivery_interval = "999ms"',
            "scheduler.delivery_interval: 999ms is too short: the least is 1s",
        ),
        ('[scheduler]\ndelivery_interval = "2h"', "scheduler.delivery_interval: 2h is too long: the most is 1h"),
        ('[seeds]\ninterval = "2d"', "seeds.interval: 2d is too long: the most is 1d"),
        ('[http]\ntimeout = "0.5s"', "http.timeout: 0.5s is too short: the least is 1s"),
        ('[http]\ntimeout = "6m"', "http.timeout: 6m is too long: the most is 5m"),
        ("[http]\nmax_bytes = 0", "http.max_bytes: Input should be greater than or equal to 1"),
        ("[http]\nmax_bytes = 99999999999999999999999999", "http.max_bytes: Input should be less than or equal to"),
        ("[http]\nmax_bytes = 1e30", "http.max_bytes:"),
        ("[http]\nmax_connections = true", "http.max_connections: expected a number, not true or false"),
        ("[http]\nmax_connections = -1", "http.max_connections: Input should be greater than or equal to 1"),
        ('[delivery]\ntimeout = "10m"', "delivery.timeout: 10m is too long: the most is 5m"),
        ('[delivery]\nretry_delays = ["1s", "2d"]', "delivery.retry_delays[1]: 2d is too long: the most is 1d"),
        ("[delivery]\nretry_delays = [0.1]", "delivery.retry_delays[0]: 0.1s is too short: the least is 1s"),
        ('[delivery]\ngive_up_after = "60d"', "delivery.give_up_after: 60d is too long: the most is 30d"),
        ("[delivery]\nbatch_size = 10001", "delivery.batch_size: Input should be less than or equal to 10000"),
        ('[health]\nalert_after = "31d"', "health.alert_after: 31d is too long: the most is 30d"),
        ("[health]\nsilence_factor = inf", "health.silence_factor: Input should be a finite number"),
        ("[health]\nsilence_factor = nan", "health.silence_factor: Input should be a finite number"),
        ("[health]\nsilence_factor = 1", "health.silence_factor: Input should be greater than 1"),
        ("[health]\nsilence_factor = 1e308", "health.silence_factor: Input should be less than or equal to 1000"),
        ('[ingest]\nfirst_poll_window = "36501d"', "ingest.first_poll_window: 36501d is too long"),
        ('[ingest]\nstory_window = "99999999d"', "ingest.story_window: 99999999d is too long: the most is 30d, since"),
        ('[ingest]\nstory_window = "3y"', "ingest.story_window: invalid duration '3y'"),
        ('[ingest]\nstory_window = "30s"', "ingest.story_window: 30s is too short: the least is 1m"),
        (f'{FEED}interval = "1ms"', "feeds[0].interval: 1ms is too short: the least is 10s"),
        (f'{FEED}interval = "99999999d"', "feeds[0].interval: 99999999d is too long: the most is 7d (line 4)"),
        ('[[rules]]\nname = "r"\nquery = "a"\ndigest_every = "8d"', "rules[0].digest_every: 8d is too long"),
        ('[seeds]\npath = "a\\u0000b"', "seeds.path: a path cannot hold a NUL character (line 2)"),
        (f'[seeds]\npath = "{"a" * 5000}"', "seeds.path: cannot use this path: File name too long (line 2)"),
    ],
)
def test_each_key_has_a_floor_and_a_ceiling(tmp_path: Path, text: str, message: str) -> None:
    report = refused(tmp_path, text + "\n")
    assert report.startswith(f"{tmp_path / 'settings.toml'}: ")
    assert message in report


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ('[scheduler]\npoll_interval = "10s"', 10),
        ('[scheduler]\npoll_interval = "7d"', 7 * 86400),
        ('[scheduler]\nallow_fast_polling = true\npoll_interval = "3s"', 3),
        ('[scheduler]\nallow_fast_polling = "${FAST}"\npoll_interval = "1s"', 1),
    ],
)
def test_poll_intervals_within_bounds(tmp_path: Path, text: str, seconds: int) -> None:
    settings = load_settings(write(tmp_path, text + "\n"), {"FAST": "true"})
    assert settings.scheduler.poll_interval == timedelta(seconds=seconds)


def test_fast_polling_lowers_the_floor_of_every_feed_but_not_below_a_second(tmp_path: Path) -> None:
    fast = f'[scheduler]\nallow_fast_polling = true\n{FEED}interval = "1s"\n'
    settings = load_settings(write(tmp_path, fast), {})
    assert settings.feed_interval(settings.feeds[0]) == timedelta(seconds=1)
    report = refused(tmp_path, fast.replace('"1s"', '"1ms"'))
    assert "feeds[0].interval: 1ms is too short: the least is 1s (line 6)" in report
    assert "allow_fast_polling" not in report.split("interval:")[1]  # it would not help


def test_the_floor_names_its_reason_and_the_way_around_it(tmp_path: Path) -> None:
    report = refused(tmp_path, '# poll\n[scheduler]\npoll_interval = "3s"\n')
    assert report == (
        f"{tmp_path / 'settings.toml'}: scheduler.poll_interval: 3s is too short: the least is 10s, since polling a "
        "feed more often burdens its server (for a feed server of your own, [scheduler] allow_fast_polling = true "
        "lowers it to 1s) (line 3)"
    )


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('[database]\nurl = "nosuchdriver://x"', {}, "database.url: unknown database 'nosuchdriver'"),
        ('[database]\nurl = "mysql://u:hunter2@db/m"', {}, "database.url: unknown database 'mysql'"),
        ("[database]\nurl = 5", {}, "database.url: Input should be a valid string (line 2)"),
        ("database = 5", {}, "database: Input should be a valid dictionary"),
        ("database = 5", {DATABASE_URL_ENV: "sqlite:///x.db"}, "database: Input should be a valid dictionary"),
        (
            "",
            {DATABASE_URL_ENV: "postgresql+nosuch://u:hunter2@db/m"},
            "database.url: unknown postgresql driver 'nosuch': use postgresql+psycopg://USER@HOST/NAME "
            "(set by MONITOR_DATABASE_URL)",
        ),
        ('[[feeds]]\nname = "x"\nurl = "http://[::1/x"', {}, "feeds[0].url: not a valid URL: Invalid port"),
        ('[[feeds]]\nname = "x"\nurl = "http://h:70000/"', {}, "feeds[0].url: not a valid URL: port 70000"),
        ('[webhooks.a]\nurl = "https://[hooks.test/hunter2"\nformat = "slack"', {}, "webhooks.a.url: not a valid"),
        ('[server]\nlisten = "exa mple:9108"', {}, "server.listen: not a host name or IP address"),
    ],
)
def test_urls_and_databases_are_checked(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    report = refused(tmp_path, text + "\n", environ)
    assert message in report
    assert "hunter2" not in report


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = " + "[" * 5000 + "]" * 5000, "TOML nested too deeply to be read"),
        ("a = " + "{b = " * 5000 + "1" + "}" * 5000, "TOML nested too deeply to be read"),
        ("[" + ".".join(["t"] * 5000) + "]\nx = 1", "t.t.t.t.t.t.t.t.t.t.t.t.t.t.t.t: tables and arrays nested more"),
        (".".join(["k"] * 5000) + " = 1", "k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k: tables and arrays nested more"),
        ("a = " + "[" * 20 + "]" * 20, "a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: tables and arrays nested"),
        ("a = 1979-02-30", "TOML syntax error: Invalid date or datetime (at line 1, column 5)"),
    ],
    ids=["arrays", "inline-tables", "headers", "dotted-keys", "arrays-20", "bad-date"],
)
def test_deep_or_broken_toml_is_a_report(tmp_path: Path, text: str, message: str) -> None:
    report = refused(tmp_path, text + "\n")
    assert report.startswith(f"{tmp_path / 'settings.toml'}: ") and message in report


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scheduler]\npoll_interval = 1e308", "scheduler.poll_interval: 1e+308s is too long: the most is 7d (line 2)"),
        ('[scheduler]\npoll_interval = "1ms"', "scheduler.poll_interval: 1ms is too short: the least is 10s"),
        ('[ingest]\nstory_window = "99999999d"', "ingest.story_window: 99999999d is too long: the most is 30d"),
        ('[[feeds]]\nname = "x"\nurl = "http://[::1/x"', "feeds[0].url: not a valid URL"),
        ('[database]\nurl = "nosuchdriver://x"', "database.url: unknown database 'nosuchdriver'"),
        ("a = " + "[" * 5000 + "]" * 5000, "TOML nested too deeply to be read"),
    ],
    ids=["1e308", "1ms", "story-window", "feed-url", "driver", "nesting"],
)
def test_monitor_check_exits_2_without_a_traceback(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"{text}\n")
    result = monitor("--config", str(path), "check")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {path}: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.integration
def test_monitor_check_names_the_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, FEED)
    result = monitor("--config", str(path), "check", env={DATABASE_URL_ENV: "nosuchdriver://monitor:hunter2@db/x"})
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {path}: database.url: unknown database 'nosuchdriver': use sqlite or postgresql "
        "(postgresql+psycopg://USER@HOST/NAME) (set by MONITOR_DATABASE_URL)\n"
    )
