from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.matching import Matcher, parse
from monitor.settings.config import load_settings, parse_duration
from monitor.settings.lines import locate_key
from monitor.settings.source import UNSET_URL
from tests.conftest import ROOT

MINIMAL = """
[[feeds]]
name = "world"
url = "http://127.0.0.1:1/feed.xml"

[webhooks.newsroom]
url = "${HOOK_URL}"
format = "slack"

[[rules]]
name = "NATO summit"
query = '"NATO summit" OR "sommet de l’OTAN"'
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("500ms", 0.5),
        (90, 90),
        ("1w", 604800),
    ],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "fifteen minutes", "15 mins", "-5s", "0s", "1h-", True, None])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_shipped_settings_are_valid() -> None:
    settings = load_settings(ROOT / "settings.toml", {})
    assert [rule.name for rule in settings.rules] == ["NATO summit", "Donbass"]
    assert settings.webhooks == {}
    assert len(settings.feeds) >= 3
    assert settings.seeds.path == (ROOT / "seeds").resolve()
    assert settings.database.url == f"sqlite:///{(ROOT / 'monitor.db').resolve()}"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("avant le sommet de l'Otan à Madrid", "NATO summit"),
        ("the NATO summit in Vilnius", "NATO summit"),
        ("the summit of NATO leaders", "NATO summit"),
        ("beim NATO-Gipfel in Washington", "NATO summit"),
        ("la cumbre de la OTAN", "NATO summit"),
        ("il vertice della NATO", "NATO summit"),
        ("szczyt NATO w Wilnie", "NATO summit"),
        ("саммит НАТО в Вильнюсе", "NATO summit"),
        ("саміт НАТО у Вільнюсі", "NATO summit"),
        ("de NAVO-top in Den Haag", "NATO summit"),
        ("la bataille du Donbass", "Donbass"),
        ("бої на Донбасі та Донбас", "Donbass"),
        ("в Донбассе", "Donbass"),  # a form of Донбасс
        ("Donbassi kaevandused", None),  # not a word of the rule, nor one of its forms
        ("NATO leaders will hold a long and difficult summit", None),
    ],
)
def test_shipped_rules_catch_what_their_comments_say(text: str, rule: str | None) -> None:
    settings = load_settings(ROOT / "settings.toml", {})
    matcher = Matcher({r.name: r.compile() for r in settings.rules})
    assert [hit.rule for hit in matcher.match(text=text)] == ([rule] if rule else [])


def test_minimal_settings_with_environment(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), {"HOOK_URL": "https://hooks.example.test/T0/B0/secret"})
    assert settings.webhooks["newsroom"].url.get_secret_value() == "https://hooks.example.test/T0/B0/secret"
    assert "T0/B0/secret" not in repr(settings)
    assert settings.feed_interval(settings.feeds[0]) == timedelta(minutes=15)
    assert settings.rule_webhooks(settings.rules[0]) == ["newsroom"]
    assert settings.scheduler.delivery_interval == timedelta(seconds=10)


def test_database_url_from_environment_wins(tmp_path: Path) -> None:
    url = "sqlite:////tmp/elsewhere.db"
    settings = load_settings(write(tmp_path, MINIMAL), {"HOOK_URL": "http://x.test/", "MONITOR_DATABASE_URL": url})
    assert settings.database.url == url


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///data/m.db"\n[seeds]\npath = "articles"\n')
    settings = load_settings(path, {})
    assert settings.database.url == f"sqlite:///{tmp_path.resolve() / 'data' / 'm.db'}"
    assert settings.seeds.path == tmp_path.resolve() / "articles"


@pytest.mark.parametrize(
    ("url", "state", "expected"),
    [
        ("sqlite:///monitor.db", "{state}", "sqlite:///{state}/monitor.db"),
        ("sqlite:///data/m.db?timeout=5", "{state}", "sqlite:///{state}/data/m.db?timeout=5"),
        ("sqlite:///monitor.db", "{state}:/var/lib/other", "sqlite:///{state}/monitor.db"),  # systemd joins with :
        ("sqlite:///monitor.db", "", "sqlite:///{settings}/monitor.db"),  # set but empty: not under systemd
        ("sqlite:////srv/kept.db", "{state}", "sqlite:////srv/kept.db"),  # absolute: the settings say where
        ("sqlite:///:memory:", "{state}", "sqlite:///:memory:"),
        ("postgresql+psycopg://monitor@db/monitor", "{state}", "postgresql+psycopg://monitor@db/monitor"),
    ],
)
def test_a_relative_sqlite_file_goes_in_the_state_directory(
    tmp_path: Path, url: str, state: str, expected: str
) -> None:
    folders = {"state": tmp_path.resolve() / "state", "settings": tmp_path.resolve() / "etc"}
    (tmp_path / "etc").mkdir()
    path = write(tmp_path / "etc", f'[database]\nurl = "{url}"\n[seeds]\npath = "seeds"\n')
    settings = load_settings(path, {"STATE_DIRECTORY": state.format(**folders)})
    assert settings.database.url == expected.format(**folders)
    assert settings.seeds.path == folders["settings"] / "seeds"  # only the database moves


def test_the_database_url_from_the_environment_ignores_the_state_directory(tmp_path: Path) -> None:
    environ = {"MONITOR_DATABASE_URL": "sqlite:///here.db", "STATE_DIRECTORY": str(tmp_path / "state")}
    assert load_settings(write(tmp_path, ""), environ).database.url == "sqlite:///here.db"


def test_a_relative_state_directory_is_refused_with_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///monitor.db"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {"STATE_DIRECTORY": "var/lib/monitor"})
    assert str(caught.value) == (
        f"{path}: database.url: a relative SQLite file goes in $STATE_DIRECTORY, which must be an absolute path, "
        "not 'var/lib/monitor'"
    )
    # Not needed, so not checked, where the database is elsewhere.
    other = write(tmp_path, '[database]\nurl = "postgresql+psycopg://monitor@db/monitor"\n')
    assert load_settings(other, {"STATE_DIRECTORY": "var/lib/monitor"}).database.url.startswith("postgresql")


def test_dollar_escape(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rules]]\nname = "cost"\nquery = "price $${literal}"\n')
    assert load_settings(path, {}).rules[0].query == "price ${literal}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[database\nurl = 1\n", ["TOML syntax error", "line 1"]),
        ('[scheduler]\npoll_interval = "soon"\n', ["scheduler.poll_interval", "invalid duration", "(line 2)"]),
        (
            '[scheduler]\npol_interval = "1m"\n',
            ["scheduler.pol_interval: unknown key 'pol_interval' (did you mean 'poll_interval'?)", "(line 2)"],
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "http://x.test/"\n[[feeds]]\nname = "b"\nurl = "ftp://x.test/"\n',
            ["feeds[1].url", "http:// or https://", "(line 6)"],
        ),
        ('[[feeds]]\nname = "a"\n', ["feeds[0].url", "Field required", "(line 1)"]),
        (
            '[webhooks.team]\nurl = "${NOPE}"\nformat = "slack"\n',
            ["webhooks.team.url", "environment variable NOPE is not set", "(line 2)"],
        ),
        ('[webhooks.team]\nurl = "http://x.test/"\nformat = "irc"\n', ["webhooks.team.format", "(line 3)"]),
        (
            '[[rules]]\nname = "x"\nquery = "a"\nwebhooks = ["ghost"]\n',
            ["rules[0].webhooks", "unknown webhook 'ghost'", "(line 4)"],
        ),
        (
            '[webhooks.a]\nurl = "http://x.test/"\nformat = "generic"\nsecret = "hunter2"\n',
            ["webhooks.a.secret", "whsec_", "(line 4)"],
        ),
        (
            '[webhooks.a]\nurl = "http://x.test/"\nformat = "generic"\nsecret = "whsec_!!!"\n',
            ["webhooks.a.secret", "base64", "(line 4)"],
        ),
        (
            '[webhooks.a]\nurl = "http://x.test/"\nformat = "slack"\n'
            'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\n',
            ["webhooks.a", "generic format only", "(line 1)"],
        ),
        (
            '[[rules]]\nname = "x"\nquery = "a"\ndelivery = "weekly"\n',
            ["rules[0].delivery", "(line 4)"],
        ),
        (
            '[[rules]]\nname = "x"\nquery = "a"\ndelivery = "digest"\ndigest_every = "sometimes"\n',
            ["rules[0].digest_every", "invalid duration", "(line 5)"],
        ),
        ('[[rules]]\nname = "x"\nquery = \'"NATO summit\'\n', ["rules[0].query", "rule 'x'", "position", "(line 3)"]),
        (
            '[[rules]]\nname = "x"\nquery = "a"\n[[rules]]\nname = "x"\nquery = "b"\n',
            ["rules[1].name", "duplicate name 'x'", "(line 5)"],
        ),
        (
            '[[rules]]\nname = "a"\nquery = "a"\n[[rules]]\nname = "x"\nany = ["ok", "!!!"]\n',
            ["rules[1].any", "rule 'x'", "invalid entry any[1]: this entry has no words", "(line 6)"],
        ),
        (
            '[[rules]]\nname = "x"\nquery = "a"\nexclude = ["ab*"]\n',
            ["rules[0].exclude", "exclude[0]: a prefix needs at least 3 characters", "(line 4)"],
        ),
        ('[[rules]]\nname = "x"\nany = "Donbass"\n', ["rules[0].any", "valid list", "(line 3)"]),
        ('[[rules]]\nname = "x"\nwebhooks = []\n', ["rules[0]:", "rule 'x' has nothing to match", "(line 1)"]),
        ('[[rules]]\nname = "x"\nany = []\n', ["rules[0]:", "rule 'x' has nothing to match", "(line 1)"]),
        (
            '[[rules]]\nname = "x"\nqeury = "a"\n',
            ["rules[0].qeury: unknown key 'qeury' (did you mean 'query'?)", "(line 3)"],
        ),
    ],
)
def test_bad_settings_name_file_key_and_line(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    message = str(caught.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[[rules]]\nname = "a"\nquery = "(x"\n'
        '[[rules]]\nname = "b"\nquery = "y AND"\n'
        '[[rules]]\nname = "c"\nquery = "ok"\nany = ["fine", "", "x*y"]\nexclude = ["-"]\n'
        '[[rules]]\nname = "d"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    keys = [problem.split(": ")[1] for problem in caught.value.problems]
    assert keys == ["rules[0].query", "rules[1].query", "rules[2].any", "rules[2].any", "rules[2].exclude", "rules[3]"]


def test_rule_problems_are_reported_beside_other_problems(tmp_path: Path) -> None:
    text = (
        '[scheduler]\npoll_interval = "soon"\n'
        '[[rules]]\nname = "a"\nquery = "(x"\n'
        '[[rules]]\nname = ""\nany = ["!!"]\n'
        '[[rules]]\nname = "c"\nexclude = ["ok", "!!"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    keys = [problem.split(": ")[1] for problem in caught.value.problems]
    assert keys == ["scheduler.poll_interval", "rules[1].name", "rules[0].query", "rules[2].exclude"]


def test_query_problem_shows_a_caret_under_the_fault(tmp_path: Path) -> None:
    path = write(tmp_path, "[[rules]]\nname = \"x\"\nquery = '''\nnato OR\n  otan AND\n'''\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(caught.value) == (
        f"{path}: rules[0].query: rule 'x': invalid query: 'AND' needs a term after it at position 15 (line 3)\n"
        "      otan AND\n"
        "           ^"
    )


@pytest.mark.parametrize(
    ("rule", "description"),
    [
        ('query = "nato"', "nato"),
        ('any = ["Donbass", "Донбас"]', '("Donbass" OR "Донбас")'),
        ('exclude = ["sport"]', 'NOT ("sport")'),
        (
            'query = "nato"\nany = ["summit", "sommet"]\nexclude = ["sport"]',
            '(nato) AND ("summit" OR "sommet") AND NOT ("sport")',
        ),
    ],
)
def test_rules_with_any_and_exclude(tmp_path: Path, rule: str, description: str) -> None:
    settings = load_settings(write(tmp_path, f'[[rules]]\nname = "r"\n{rule}\n'), {})
    assert settings.rules[0].describe() == description
    assert settings.rules[0].compile() == parse(description)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml", {})


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        (("database", "url"), 2),
        (("feeds", 1, "url"), 7),
        (("feeds", 1), 5),
        (("webhooks", "a b", "format"), 10),
        (("rules", 0, "query"), 13),
    ],
)
def test_locate_key(loc: tuple[str | int, ...], line: int) -> None:
    source = (
        '[database]\nurl = "x"\n[[feeds]]\nname = "a"\n[[feeds]]\nname = "b"\nurl = "c"\n'
        '[webhooks."a b"]\nurl = "u"\nformat = "slack"\n[[rules]]\nname = "r"\nquery = """q\nstill q"""\n'
    )
    assert locate_key(source, loc) == line


WEBHOOKS = """
[[feeds]]
name = "world"
url = "http://127.0.0.1:1/feed.xml"

[webhooks.newsroom]
url = "${SLACK_WEBHOOK_URL}"
format = "slack"

[webhooks.pipeline]
url = "https://hooks.example.org/services/${PIPELINE_TOKEN}"
format = "generic"
secret = "${PIPELINE_SECRET}"

[webhooks.fixed]
url = "https://example.org/hook"
format = "discord"

[[rules]]
name = "NATO summit"
query = "nato"
webhooks = ["newsroom", "pipeline"]
"""
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("environ", "unset"),
    [
        ({}, ["newsroom.url", "pipeline.url", "pipeline.secret"]),
        ({"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}, ["pipeline.url", "pipeline.secret"]),
        ({"PIPELINE_TOKEN": "abc", "PIPELINE_SECRET": SECRET}, ["newsroom.url"]),
        ({"PIPELINE_TOKEN": "abc"}, ["newsroom.url", "pipeline.secret"]),
    ],
)
def test_unset_webhook_variables_make_webhooks_unusable_for_commands_that_send_nothing(
    tmp_path: Path, environ: dict[str, str], unset: list[str]
) -> None:
    path = write(tmp_path, WEBHOOKS)
    settings = load_settings(path, environ, webhooks_needed=False)
    first = {}
    for loc in unset:
        first.setdefault(loc.split(".")[0], f"webhooks.{loc}")
    assert {name: why.split(": ")[0] for name, why in settings.unusable_webhooks().items()} == first
    assert all(why.endswith(" is not set") for why in settings.unusable_webhooks().values())
    assert list(settings.webhooks) == ["newsroom", "pipeline", "fixed"]  # rules still name them
    for loc in unset:
        name, key = loc.split(".")
        if key == "url":
            assert settings.webhooks[name].url.get_secret_value() == UNSET_URL
        else:
            assert settings.webhooks[name].secret is None
    assert settings.webhooks["fixed"].url.get_secret_value() == "https://example.org/hook"
    # The same file, read for `run` or `check`, names every unset variable.
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ)
    assert [p.split(": ")[1] for p in caught.value.problems] == [f"webhooks.{loc}" for loc in unset]


def test_settings_read_for_run_have_no_unusable_webhook(tmp_path: Path) -> None:
    environ = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x", "PIPELINE_TOKEN": "t", "PIPELINE_SECRET": SECRET}
    settings = load_settings(write(tmp_path, WEBHOOKS), environ)
    assert settings.unusable_webhooks() == {}
    assert settings.webhooks["pipeline"].url.get_secret_value() == "https://hooks.example.org/services/t"
    assert load_settings(write(tmp_path, WEBHOOKS), environ, webhooks_needed=False) == settings


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[database]\nurl = "${DB}"\n', "database.url"),
        ('[[feeds]]\nname = "a"\nurl = "${FEED_URL}"\n', "feeds[0].url"),
        ('[webhooks.a]\nurl = "https://x.test/"\nformat = "${FORMAT}"\n', "webhooks.a.format"),
        ('[webhooks.a]\nurl = ["${HOOK}"]\nformat = "slack"\n', "webhooks.a.url[0]"),
        ('[[rules]]\nname = "${RULE}"\nquery = "x"\n', "rules[0].name"),
    ],
)
def test_unset_variables_elsewhere_are_still_errors(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {}, webhooks_needed=False)
    assert f": {key}: environment variable " in str(caught.value) and "is not set" in str(caught.value)


def test_an_unusable_webhook_is_still_validated_otherwise(tmp_path: Path) -> None:
    text = '[webhooks.a]\nurl = "${HOOK}"\nformat = "telegraph"\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {}, webhooks_needed=False)
    assert [p.split(": ")[1] for p in caught.value.problems] == ["webhooks.a.format"]


def test_an_unset_token_makes_an_api_webhook_unusable_for_commands_that_send_nothing(tmp_path: Path) -> None:
    text = """
[webhooks.room]
format = "matrix"
url = "https://matrix.example.org"
room = "!abc:example.org"
token = "${MATRIX_TOKEN}"

[webhooks.bot]
format = "telegram"
token = "${TELEGRAM_TOKEN}"
chat_id = "-100123"
"""
    path = write(tmp_path, text)
    settings = load_settings(path, {}, webhooks_needed=False)
    assert set(settings.unusable_webhooks()) == {"room", "bot"}
    assert all(hook.token is not None for hook in settings.webhooks.values())
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert [p.split(": ")[1] for p in caught.value.problems] == ["webhooks.room.token", "webhooks.bot.token"]
