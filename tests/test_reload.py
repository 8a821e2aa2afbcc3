"""Reloading the settings while the daemon runs: what changed, what is put in force, how the jobs follow."""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from monitor import scheduler
from monitor.pipeline import Pipeline
from monitor.reload import Changes, Delta, Reloader, compare
from monitor.settings.config import load_settings
from monitor.store.message import AlertMessage
from monitor.store.storage import Storage
from tests.conftest import LoopbackServer
from tests.daemon import Daemon
from tests.db import rows

BASE = """
[database]
url = "sqlite:///monitor.db"

[seeds]
enabled = false

[[feeds]]
name = "world"
url = "http://feeds.test/world.xml"

[[feeds]]
name = "desk"
url = "http://feeds.test/desk.xml"
interval = "5m"

[webhooks.chat]
url = "http://hooks.test/a"
format = "slack"

[[rules]]
name = "nato"
query = "nato"

[[rules]]
name = "donbass"
any = ["Donbass"]
"""
NEW_RULE = '\n[[rules]]\nname = "markets"\nany = ["markets"]\n'
NEW_FEED = '\n[[feeds]]\nname = "extra"\nurl = "http://feeds.test/extra.xml"\n'


def write(path: Path, text: str) -> Path:
    """Replace the file in one step, as an editor saving it does."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ("", "", Changes()),
        ('query = "nato"', 'query = "otan"', Changes(rules=Delta(changed=("nato",)))),
        ('any = ["Donbass"]', 'any = ["Donbass"]\nexclude = ["sport"]', Changes(rules=Delta(changed=("donbass",)))),
        ('any = ["Donbass"]\n', f'any = ["Donbass"]\n{NEW_RULE}', Changes(rules=Delta(added=("markets",)))),
        ('[[rules]]\nname = "donbass"\nany = ["Donbass"]\n', "", Changes(rules=Delta(removed=("donbass",)))),
        ("world.xml", "world2.xml", Changes(feeds=Delta(changed=("world",)))),
        ('interval = "5m"', 'interval = "1m"', Changes(feeds=Delta(changed=("desk",)))),
        (
            "[seeds]",
            '[scheduler]\npoll_interval = "1m"\n[seeds]',
            Changes(feeds=Delta(changed=("world",)), sections=("scheduler",)),
        ),
        (
            '[[feeds]]\nname = "world"\nurl = "http://feeds.test/world.xml"\n',
            NEW_FEED,
            Changes(feeds=Delta(added=("extra",), removed=("world",))),
        ),
        ("hooks.test/a", "hooks.test/b", Changes(webhooks=Delta(changed=("chat",)))),
        ('format = "slack"', 'format = "slack"\n[webhooks.ops]\nurl = "http://o.test/"\nformat = "generic"', None),
        ("enabled = false", "enabled = true", Changes(sections=("seeds",))),
        (
            "[seeds]",
            '[delivery]\ntimeout = "3s"\n[http]\nmax_bytes = 10\n[seeds]',
            Changes(sections=("http", "delivery")),
        ),
        ("monitor.db", "other.db", Changes(ignored=("database",))),
    ],
)
def test_compare(tmp_path: Path, old: str, new: str, changes: Changes | None) -> None:
    before = load_settings(write(tmp_path / "a.toml", BASE), {})
    after = load_settings(write(tmp_path / "a.toml", BASE.replace(old, new) if old else BASE), {})
    expected = Changes(webhooks=Delta(added=("ops",))) if changes is None else changes
    assert compare(before, after) == expected
    assert bool(expected) == bool(expected.rules or expected.feeds or expected.webhooks or expected.sections)


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        (Changes(), "no change"),
        (Changes(ignored=("database",)), "no change"),
        (Changes(rules=Delta(added=("a", "b"), changed=("c",))), "rules added: a, b; rules changed: c"),
        (
            Changes(feeds=Delta(removed=("f",)), webhooks=Delta(changed=("w",)), sections=("seeds", "http")),
            "feeds removed: f; webhooks changed: w; sections changed: seeds, http",
        ),
    ],
)
def test_changes_describe(changes: Changes, text: str) -> None:
    assert changes.describe() == text


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    # A SQLite file, not both backends: these tests read settings files and never touch the database, which is
    # only there because a pipeline needs one.
    path = write(tmp_path / "settings.toml", BASE)
    settings = load_settings(path, {})
    storage = Storage.open(settings.database.url)
    printed: list[AlertMessage] = []
    with httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(404))) as client:
        yield Pipeline(settings, storage, client, printed.append)
    storage.close()


def test_reloader_puts_a_valid_new_version_in_force(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    path = pipeline.settings.path
    reloader = Reloader(pipeline, path, {})
    first = pipeline.active
    assert reloader.check("test") is None  # the file the daemon started with
    assert pipeline.active is first
    write(path, BASE + NEW_RULE)
    with caplog.at_level(logging.INFO, logger="monitor.reload"):
        changes = reloader.check("test")
    assert changes == Changes(rules=Delta(added=("markets",)))
    assert pipeline.active is not first
    assert list(pipeline.active.matcher.rules) == ["nato", "donbass", "markets"]
    assert pipeline.active.descriptions["markets"] == '("markets")'
    assert caplog.messages == ["settings reloaded (test): rules added: markets"]
    assert reloader.check("test") is None  # unchanged since


def test_reloader_keeps_the_settings_when_the_new_version_is_invalid(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    path = pipeline.settings.path
    reloader = Reloader(pipeline, path, {})
    active = pipeline.active
    write(path, BASE.replace('query = "nato"', 'query = "(nato"') + NEW_RULE)
    with caplog.at_level(logging.INFO, logger="monitor.reload"):
        assert reloader.check("test") is None
        assert reloader.check("test") is None  # logged once, not at every check
    assert pipeline.active is active
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert f"{path}: rules[0].query: rule 'nato': invalid query: unclosed '('" in record.getMessage()
    assert "(line 23)" in record.getMessage()
    write(path, BASE + NEW_RULE)
    assert reloader.check("test") == Changes(rules=Delta(added=("markets",)))


def test_reloader_survives_a_missing_file(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    path = pipeline.settings.path
    reloader = Reloader(pipeline, path, {})
    path.unlink()
    with caplog.at_level(logging.INFO, logger="monitor.reload"):
        assert reloader.check("test") is None
        assert reloader.check("test") is None
    assert [r.getMessage().endswith("settings file not found") for r in caplog.records] == [True]
    write(path, BASE)
    assert reloader.check("test") is None  # back as it was: nothing to do


def test_reloader_ignores_the_database_until_restart(pipeline: Pipeline, caplog: pytest.LogCaptureFixture) -> None:
    path = pipeline.settings.path
    url = pipeline.settings.database.url
    reloader = Reloader(pipeline, path, {})
    write(path, BASE.replace("monitor.db", "other.db") + NEW_RULE)
    with caplog.at_level(logging.INFO, logger="monitor.reload"):
        assert reloader.check("test") == Changes(rules=Delta(added=("markets",)), ignored=("database",))
    assert pipeline.settings.database.url == url
    assert "markets" in pipeline.active.rules
    assert caplog.messages[0] == f"settings: [database] changed in {path}; ignored until restart"


def test_reloader_takes_environment_values(pipeline: Pipeline) -> None:
    path = pipeline.settings.path
    reloader = Reloader(pipeline, path, {"HOOK": "http://hooks.test/from-env"})
    write(path, BASE.replace("http://hooks.test/a", "${HOOK}"))
    assert reloader.check("test") == Changes(webhooks=Delta(changed=("chat",)))
    assert pipeline.settings.webhooks["chat"].url.get_secret_value() == "http://hooks.test/from-env"


def test_reloader_applies_the_log_level(pipeline: Pipeline) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        write(pipeline.settings.path, BASE + '\n[logging]\nlevel = "ERROR"\n')
        assert Reloader(pipeline, pipeline.settings.path, {}).check("test") == Changes(sections=("logging",))
        assert root.level == logging.ERROR
    finally:
        root.setLevel(level)


def jobs(runner: BackgroundScheduler) -> dict[str, tuple[object, ...]]:
    return {job.id: (*job.args, job.trigger.interval.total_seconds()) for job in runner.get_jobs()}


def test_jobs_follow_the_settings(pipeline: Pipeline) -> None:
    runner = scheduler.build(pipeline)
    runner.start(paused=True)
    try:
        assert {name: args[-1] for name, args in jobs(runner).items()} == {
            "feed:world": 900,
            "feed:desk": 300,
            "delivery": 10,
            "health": 60,
        }
        check = scheduler._settings_check(runner, pipeline, Reloader(pipeline, pipeline.settings.path, {}))
        text = BASE.replace('[[feeds]]\nname = "world"\nurl = "http://feeds.test/world.xml"\n', NEW_FEED)
        text = text.replace("enabled = false", 'enabled = true\ninterval = "30s"')
        text = text.replace('interval = "5m"', 'interval = "2m"')
        write(pipeline.settings.path, text + '\n[scheduler]\ndelivery_interval = "2s"\n')
        check("test")
        found = jobs(runner)
        assert {name: args[-1] for name, args in found.items()} == {
            "feed:desk": 120,
            "feed:extra": 900,
            "seeds": 30,
            "delivery": 2,
            "health": 60,
        }
        assert [found[f"feed:{feed.name}"][0] for feed in pipeline.settings.feeds] == pipeline.settings.feeds
    finally:
        runner.shutdown(wait=False)


def rss(*items: tuple[str, str]) -> bytes:
    """Return an RSS document holding items given as (guid, title)."""
    entries = "".join(
        f"<item><title>{t}</title><guid>{g}</guid><description>{t}.</description></item>" for g, t in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()


def daemon_settings(server: LoopbackServer, database: str, rules: str, feeds: str = "") -> str:
    return f"""
[database]
url = "{database}"

[scheduler]
delivery_interval = "1s"
allow_fast_polling = true  # the feed server is the test's own

[seeds]
enabled = false

[[feeds]]
name = "world"
url = "{server.url("/world.xml")}"
interval = "1s"
{feeds}
[webhooks.chat]
url = "{server.url("/hook")}"
format = "generic"

[[rules]]
name = "NATO summit"
query = "NATO NEAR/3 summit"
{rules}"""


DESK_FEED = '\n[[feeds]]\nname = "desk"\nurl = "{url}"\ninterval = "1s"\n'
MARKETS_RULE = '\n[[rules]]\nname = "markets"\nany = ["markets", "stocks"]\n'


def alerted(server: LoopbackServer) -> list[tuple[str, str]]:
    return [(r.json()["rule"]["name"], r.json()["article"]["title"]) for r in server.received_on("/hook")]


@pytest.fixture
def newsroom(loopback: LoopbackServer) -> dict[str, list[tuple[str, str]]]:
    """Serve a world feed and a desk feed whose items the test changes; accept every alert on /hook."""
    items = {
        "world": [("w1", "Leaders gather for the NATO summit in Madrid"), ("w2", "Markets close higher")],
        "desk": [("d1", "Stocks rally after the rate cut")],
    }
    for name in items:
        loopback.routes[f"/{name}.xml"] = lambda _h, name=name: (200, {}, rss(*items[name]))
    loopback.routes["/hook"] = lambda _h: (200, {}, b"ok")
    return items


@pytest.mark.integration
def test_daemon_reloads_changed_settings_and_keeps_running_on_invalid_ones(
    tmp_path: Path, loopback: LoopbackServer, newsroom: dict[str, list[tuple[str, str]]], database_url: str
) -> None:
    config = write(tmp_path / "settings.toml", daemon_settings(loopback, database_url, rules=""))
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: len(alerted(loopback)) == 1)
        assert alerted(loopback) == [("NATO summit", "Leaders gather for the NATO summit in Madrid")]

        # A new rule and a new feed: the desk's item alerts, without a restart, as soon as the file is written.
        written = time.monotonic()
        desk = DESK_FEED.format(url=loopback.url("/desk.xml"))
        write(config, daemon_settings(loopback, database_url, MARKETS_RULE, desk))
        daemon.wait_for(lambda: "settings reloaded" in daemon.log())
        assert time.monotonic() - written < scheduler.SETTINGS_CHECK_SECONDS / 3  # the file watcher, not the timer
        daemon.wait_for(lambda: len(alerted(loopback)) == 2)
        assert alerted(loopback)[1] == ("markets", "Stocks rally after the rate cut")
        assert "settings reloaded (file changed): rules added: markets; feeds added: desk" in daemon.log()
        payload = loopback.received_on("/hook")[1].json()
        assert payload["rule"] == {"name": "markets", "query": '("markets" OR "stocks")'}

        # An invalid version is logged and ignored: the daemon goes on with the settings in force.
        broken_rule = MARKETS_RULE.replace('"stocks"', '"st*"')
        broken = daemon_settings(loopback, database_url, broken_rule, DESK_FEED.format(url="x"))
        write(config, broken)
        daemon.wait_for(lambda: "the previous settings stay in force" in daemon.log())
        log = daemon.log()
        assert f"{config}: rules[1].any: rule 'markets': invalid entry any[1]: a prefix needs at least 3" in log
        assert f"{config}: feeds[1].url: must be an http:// or https:// URL (line 19)" in log
        newsroom["desk"].append(("d2", "Markets slip again"))
        daemon.wait_for(lambda: len(alerted(loopback)) == 3)
        assert alerted(loopback)[2] == ("markets", "Markets slip again")
        assert daemon.process.poll() is None
    finally:
        daemon.stop()
    assert daemon.process.returncode == 0, daemon.log()
    assert "Traceback" not in daemon.log()


@pytest.mark.integration
def test_daemon_reloads_on_sighup(
    tmp_path: Path, loopback: LoopbackServer, newsroom: dict[str, list[tuple[str, str]]], database_url: str
) -> None:
    config = write(tmp_path / "settings.toml", daemon_settings(loopback, database_url, rules=""))
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: len(alerted(loopback)) == 1)
        started = time.monotonic()
        desk = DESK_FEED.format(url=loopback.url("/desk.xml"))
        # Another database, whichever the test runs on: a SQLite file, so the test can see it was never made.
        write(config, daemon_settings(loopback, "sqlite:///elsewhere.db", MARKETS_RULE, desk))
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "settings reloaded" in daemon.log())
        assert time.monotonic() - started < scheduler.SETTINGS_CHECK_SECONDS
        log = daemon.log()
        assert "received SIGHUP, checking the settings file" in log
        # The file watcher may notice the new file first; either way it is reloaded once, at once.
        assert re.search(r"settings reloaded \((SIGHUP|file changed)\): rules added: markets; feeds added: desk", log)
        assert log.count("settings reloaded") == 1
        assert f"settings: [database] changed in {config}; ignored until restart" in log
        daemon.wait_for(lambda: len(alerted(loopback)) == 2)
        assert alerted(loopback)[1] == ("markets", "Stocks rally after the rate cut")
    finally:
        daemon.stop()
    assert daemon.process.returncode == 0, daemon.log()
    assert not (tmp_path / "elsewhere.db").exists()
    assert rows(database_url, "SELECT rule FROM alerts ORDER BY id") == [("NATO summit",), ("markets",)]
