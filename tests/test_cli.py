"""The ``monitor`` command run in-process: ``check``, ``rules test`` and ``rules backtest``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.ingest.article import ParsedArticle
from monitor.matching import native
from monitor.store.outbox import Outbox
from monitor.store.storage import Storage
from tests.conftest import ROOT

SEED = ROOT / "seeds" / "otan-defense-ministers-2022-06.txt"
SEED_TITLE = "Renforcer le soutien à l'Ukraine et améliorer les capacités de défense de l'OTAN"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args, environ={})
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "code", "hits"),
    [
        (["otan", "--text", "le sommet de l'Otan"], 0, [("otan", ("Otan",), "text")]),
        (["nato", "--text", "le sommet de l'Otan"], 1, []),
        (["otan", "--text", "rien", "--title", "L'OTAN"], 0, [("otan", ("OTAN",), "title")]),
        (["--text", "a quiet day", "--", "-sport"], 0, [("-sport", (), "text")]),
        (["sommet NEAR/3 otan", "--file", str(SEED)], 0, [("sommet NEAR/3 otan", ("sommet", "Otan"), "text")]),
        (["title:ukraine", "--file", str(SEED)], 0, [("title:ukraine", ("Ukraine",), "title")]),
        (["title:ukraine", "--file", str(SEED), "--title", "Autre titre"], 1, []),
        (["title:2022", "--file", str(SEED)], 1, []),  # the date line is not part of the article
    ],
)
def test_rules_test(
    args: list[str], code: int, hits: list[tuple[str, tuple[str, ...], str]], capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, out, err = run(["rules", "test", *args], capsys)
    assert (exit_code, err) == (code, "")
    result = json.loads(out)
    assert result["matched"] is bool(hits)
    assert [(h["rule"], tuple(h["matched"]), h["field"]) for h in result["hits"]] == hits
    assert all(set(h) == {"rule", "matched", "field", "snippet"} for h in result["hits"])


def test_rules_test_snippet(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["rules", "test", "Donbass", "--file", str(SEED)], capsys)
    (hit,) = json.loads(out)["hits"]
    assert "la bataille du **Donbass** est" in hit["snippet"]


def test_rules_test_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO("date 2024-01\n# Le *sommet* de l'Otan\n\nÀ Vilnius.".encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = run(["rules", "test", 'title:"sommet de l otan"', "--file", "-"], capsys)
    assert code == 0
    assert json.loads(out)["hits"][0]["snippet"] == "Le **sommet de l'Otan**"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("nato AND", "error: invalid query: 'AND' needs a term after it at position 5\n  nato AND\n       ^\n"),
        ("(nato", "error: invalid query: unclosed '(' at position 0\n  (nato\n  ^\n"),
        ("", "error: invalid query: empty query at position 0\n  \n  ^\n"),
    ],
)
def test_rules_test_bad_query_exits_2(query: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "test", query, "--text", "x"], capsys) == (2, "", message)


def test_rules_test_needs_no_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[scheduler\n")
    code, out, _ = run(["--config", str(broken), "rules", "test", "otan", "--text", "OTAN"], capsys)
    assert code == 0 and json.loads(out)["matched"] is True
    code, _, err = run(["rules", "test", "otan", "--file", str(tmp_path / "missing.txt")], capsys)
    assert code == 2 and "missing.txt: cannot read" in err


@pytest.mark.parametrize(
    "args",
    [["otan"], ["otan", "--text", "a", "--file", "b"], ["--text", "a"]],
)
def test_rules_test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["rules", "test", *args], environ={})
    assert caught.value.code == 2


@pytest.mark.integration
def test_rules_test_as_a_subprocess_without_settings(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    command = [sys.executable, "-m", "monitor", "rules", "test"]
    found = subprocess.run(
        [*command, "Донбас", "--text", "Бої на Донбасі, Донбас"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["matched"] == ["Донбасі", "Донбас"]  # the locative is a form
    bad = subprocess.run(
        [*command, "a NEAR b", "--text", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "error: invalid query: NEAR needs a distance, as in NEAR/5 at position 2\n  a NEAR b\n    ^\n"
    assert not (tmp_path / "settings.toml").exists() and not (tmp_path / "monitor.db").exists()


ARTICLES = [
    # (title, text, source, days since it was fetched, days since it was published)
    ("Leaders gather for the NATO summit", "In Madrid.", "world", 1, None),
    ("Sommet de l'Otan à Vilnius", "Les alliés se réunissent.", "lemonde", 2, 2),
    ("Markets close higher", "Stocks rose.", "world", 3, None),
    ("Old NATO summit news", "From last month.", "world", 30, 30),
    ("Archive: NATO summit of 2022", "Fetched today.", "archive", 0, 900),
    ("Бої на Донбасі", "Донбас.", "ukraine", 1, 1),
]


@pytest.fixture
def database(tmp_path: Path, database_url: str) -> Path:
    """Write settings with two rules and a database holding ARTICLES; return the settings file."""
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n[seeds]\nenabled = false\n'
        '[[rules]]\nname = "NATO summit"\nquery = "NATO NEAR/3 summit OR OTAN NEAR/3 sommet"\n'
        '[[rules]]\nname = "Donbass"\nany = ["Donbass", "Донбас"]\nexclude = ["archive"]\n',
        encoding="utf-8",
    )
    now = datetime.now(UTC)
    storage = Storage.open(database_url)
    for index, (title, text, source, fetched, published) in enumerate(ARTICLES):
        item = ParsedArticle(
            content_key=f"k{index}",
            source=source,
            title=title,
            text=text,
            url=f"https://news.test/{index}",
            published=None if published is None else now - timedelta(days=published, hours=1),
        )
        with storage.transaction() as tx:
            tx.save_new_articles([item], now - timedelta(days=fetched, hours=1))
    storage.close()
    return config


def backtest_json(config: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, err = run(["--config", str(config), "rules", "backtest", *args, "--json"], capsys)
    assert (code, err) == (0, "")
    return [match["title"] for match in json.loads(out)]


@pytest.mark.parametrize(
    ("args", "titles"),
    [
        (
            ["NATO summit"],
            ["Archive: NATO summit of 2022", "Sommet de l'Otan à Vilnius", "Leaders gather for the NATO summit"],
        ),
        (["NATO summit", "--since", "36h"], ["Archive: NATO summit of 2022", "Leaders gather for the NATO summit"]),
        (["NATO summit", "--since", "60d"], [t for t, *_ in reversed(ARTICLES) if "NATO" in t or "Otan" in t]),
        (["NATO summit", "--limit", "1"], ["Archive: NATO summit of 2022"]),
        (["Donbass"], ["Бої на Донбасі"]),
        (["--query", "markets OR stocks"], ["Markets close higher"]),
        (["--query", "title:summit -archive", "--since", "1d6h"], ["Leaders gather for the NATO summit"]),
        (["--query", "nothing"], []),
    ],
)
def test_backtest_json(database: Path, args: list[str], titles: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert backtest_json(database, args, capsys) == titles


def test_backtest_json_fields(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["--config", str(database), "rules", "backtest", "Donbass", "--json"], capsys)
    (match,) = json.loads(out)
    assert set(match) == {"id", "title", "url", "source", "published", "fetched", "matched", "field", "snippet"}
    assert match["url"] == "https://news.test/5" and match["source"] == "ukraine"
    assert match["matched"] == ["Донбасі", "Донбас"] and match["field"] == "title"  # the title holds a form
    assert match["published"].endswith("Z") and match["fetched"].endswith("Z")


def test_backtest_text(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--config", str(database), "rules", "backtest", "NATO summit", "--limit", "2"], capsys)
    assert (code, err) == (0, "")
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 3
    title, where, snippet = blocks[1].splitlines()
    assert title == "Sommet de l'Otan à Vilnius"
    assert where.startswith("  lemonde · ") and where.endswith(" UTC · https://news.test/1")
    assert snippet == "  **Sommet** de l'**Otan** à Vilnius"
    assert blocks[2].startswith("3 of 5 articles matched since ") and blocks[2].endswith(" UTC (2 listed)")


def test_backtest_writes_nothing(database: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    file = Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite:///") else None
    before = file.read_bytes() if file else None
    assert backtest_json(database, ["NATO summit"], capsys)
    storage = Storage.open(database_url)
    assert Outbox(storage).counts() == {}
    with storage.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM alerts").scalar() == 0
    storage.close()
    if file:  # on SQLite, not a byte of the file changed (PostgreSQL has no file to compare)
        assert file.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nope"], "error: rules backtest: unknown rule 'Nope' (known: 'NATO summit', 'Donbass')\n"),
        ([], "error: rules backtest: give the NAME of a rule or --query Q\n"),
        (["Donbass", "--query", "x"], "error: rules backtest: give the NAME of a rule or --query Q, not both\n"),
        (["--query", "x OR"], "error: invalid query: 'OR' needs a term after it at position 2\n  x OR\n    ^\n"),
    ],
)
def test_backtest_bad_input_exits_2(
    database: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(database), "rules", "backtest", *args], capsys) == (2, "", message)


@pytest.mark.parametrize("args", [["x", "--since", "soon"], ["x", "--limit", "0"], ["x", "--limit", "-3"]])
def test_backtest_bad_arguments_exit_2(database: Path, args: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--config", str(database), "rules", "backtest", *args], environ={})
    assert caught.value.code == 2


def test_backtest_unusable_database_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[database]\nurl = "sqlite:///no/such/dir/x.db"\n')
    code, _, err = run(["--config", str(config), "rules", "backtest", "--query", "x"], capsys)
    assert code == 1 and err.startswith("error: database")


def test_check_prints_every_rule_description(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[seeds]\nenabled = false\n[[rules]]\nname = "a"\nquery = """\nnato\n  OR otan"""\n'
        '[[rules]]\nname = "b"\nquery = "nato"\nany = ["summit", "sommet de l\'Otan"]\nexclude = ["sport"]\n'
    )
    code, out, _ = run(["--config", str(config), "check"], capsys)
    assert code == 0
    assert out.splitlines()[-5:] == [
        "rules: 2",
        "  - a -> console",
        "      nato OR otan",
        "  - b -> console",
        '      (nato) AND ("summit" OR "sommet de l\'Otan") AND NOT ("sport")',
    ]


@pytest.mark.parametrize("compiled", [True, False])
def test_check_says_whether_the_matcher_is_compiled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    monkeypatch.setattr(native, "compiled", lambda: compiled)
    config = tmp_path / "settings.toml"
    config.write_text("[seeds]\nenabled = false\n")
    code, out, _ = run(["--config", str(config), "check"], capsys)
    assert code == 0
    assert out.splitlines()[2] == f"matcher: {native.describe()}"
    assert ("pure Python" in out) is not compiled


def test_check_reports_every_invalid_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[[rules]]\nname = "a"\nquery = "(x"\n[[rules]]\nname = "b"\nquery = "ok"\n'
        '[[rules]]\nname = "c"\nany = ["!!"]\n[[rules]]\nname = "d"\nexclude = ["ok", "ab*"]\n'
    )
    code, out, err = run(["--config", str(config), "check"], capsys)
    assert (code, out) == (2, "")
    assert [line.split(": ")[1] for line in err.splitlines() if line.startswith(("error: ", str(config)))] == [
        str(config),
        "rules[2].any",
        "rules[3].exclude",
    ]
    assert "rules[0].query: rule 'a': invalid query: unclosed '('" in err


def test_importing_the_command_line_module_stays_light() -> None:
    # Worker processes re-import the program's main script, which imports monitor.cli: it must not pull in the
    # database, HTTP or parsing libraries, or every worker would carry them.
    code = "import sys, monitor.cli; print(sorted({'sqlalchemy', 'httpx', 'feedparser', 'numpy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "environ", "where", "hint"),
    [
        ([], {}, "{cwd}/settings.toml", "(the default; name another with --config PATH or MONITOR_CONFIG)"),
        ([], {"MONITOR_CONFIG": "conf/m.toml"}, "{cwd}/conf/m.toml", "(given by MONITOR_CONFIG; --config PATH names"),
        (["--config", "{tmp}/x.toml"], {"MONITOR_CONFIG": "m.toml"}, "{tmp}/x.toml", "(given by --config)"),
    ],
)
def test_a_missing_settings_file_is_named_with_how_to_give_another(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    environ: dict[str, str],
    where: str,
    hint: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [arg.format(tmp=tmp_path) for arg in argv]
    assert main([*args, "status"], environ=environ) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: settings file not found: {where.format(cwd=tmp_path, tmp=tmp_path)} {hint}")


class ClosedPipe(io.StringIO):
    """Standard output whose reader is gone, as when `| head` has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_ends_the_command_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["rules", "test", "otan", "--text", "OTAN"], environ={}) == 141
    assert capsys.readouterr().err == ""


@pytest.fixture
def many_feeds(tmp_path: Path) -> Path:
    """Write settings with 500 feeds and a rule, and a database holding one article; return the settings file."""
    feeds = "".join(f'[[feeds]]\nname = "feed-{n}"\nurl = "https://feed{n}.example.org/rss"\n' for n in range(500))
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n[seeds]\nenabled = false\n{feeds}'
        '[[rules]]\nname = "NATO summit"\nquery = "nato"\n',
        encoding="utf-8",
    )
    storage = Storage.open(f"sqlite:///{tmp_path / 'm.db'}")
    with storage.transaction() as tx:
        tx.save_new_articles([ParsedArticle("k", "world", "NATO summit opens", "In Vilnius.")], datetime.now(UTC))
    storage.close()
    return config


@pytest.mark.integration
@pytest.mark.parametrize(
    "command",
    [
        ["feeds", "--json"],
        ["feeds"],
        ["status"],
        ["alerts", "--json"],
        ["rules", "backtest", "NATO summit"],
        ["check"],
        ["db", "current"],
    ],
)
def test_output_piped_into_a_reader_that_is_gone(many_feeds: Path, command: list[str]) -> None:
    # `monitor feeds --json | head -1` once head has exited: no reader is left on the pipe.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(many_feeds), *command],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.integration
def test_output_piped_into_head(many_feeds: Path) -> None:
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}, "PYTHONPATH": str(ROOT)}
    command = f'{sys.executable} -m monitor --config {many_feeds} feeds --json | head -n 2; echo "${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=environ, timeout=60)
    assert done.stdout.splitlines() == ["[", "  {", "141"]
    assert done.stderr == ""
