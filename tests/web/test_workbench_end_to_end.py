"""The workbench page of a real web server on a loopback port, over a real SQLite file: through its word index it
counts what ``monitor rules backtest`` counts, and finds the articles stored after the index was built."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.ingest.article import ParsedArticle
from monitor.observe.metrics import Metrics
from monitor.observe.server import StatusServer
from monitor.settings.config import load_settings
from monitor.store.storage import Storage
from monitor.web.app import Site, pages
from tests.daemon import monitor

pytestmark = pytest.mark.integration
BUILDING = "is being built"
QUERIES = [
    "Донбасс",
    "=Донбасс",
    '"NATO summit"',
    "secur*",
    "sommet NEAR/2 Otan",
    "NOT nato",
    "(Donbass OR Donbas) -football",
    '"в Донбасс"',
    'text:"security first"',
    '"donbas region today"',
    "title:(nato NEAR/1 summ*)",
    "Донбасс NEAR/2 бои",
    "北约",
    '"峰会 summit"',
    'NOT "nato summit"',
]


def stored(storage: Storage, when: datetime, *articles: ParsedArticle) -> None:
    with storage.transaction() as tx:
        tx.save_new_articles(list(articles), when)


def article(key: str, title: str, text: str, language: str | None = "en", full_text: str = "") -> ParsedArticle:
    return ParsedArticle(key, "world", title, text, url=f"https://x/{key}", language=language, full_text=full_text)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    database = tmp_path / "monitor.db"
    config = tmp_path / "settings.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n\n[seeds]\nenabled = false\n', encoding="utf-8")
    settings = load_settings(config, {})
    storage = Storage.open(settings.database.url)
    now = datetime.now(UTC)
    stored(
        storage,
        now - timedelta(days=30),
        article("old", "Донбасс a month ago", "NATO summit then.", "ru"),
    )
    stored(
        storage,
        now - timedelta(hours=5),
        article("a1", "NATO summit opens in Vilnius", "Leaders meet."),
        article("a2", "Бои в Донбассе продолжаются", "Обстрелы не прекращаются.", "ru"),
        article("a3", "Football: Donbass derby", "A match report."),
        article("a4", "Weather", "Sunny in the Donbas region.", full_text="Security first in the Donbas region today."),
        article("a5", "Les sommets de l'OTAN", "La sécurité européenne.", "fr"),
        article("a6", "Two NATO summits", "Then talks.", None),
        article("a7", "Положение Донбасса", "", None),
        article("a8", "北约峰会", "北约峰会 summits", None),
    )
    server = StatusServer(
        "127.0.0.1:0", Metrics(), lambda: True, storage.probe, pages=pages(Site(storage, lambda: settings), None, None)
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", config
    finally:
        server.stop()
        storage.close()


def counted(page: str) -> tuple[int, int]:
    found = re.search(r"<strong>(\d+)</strong> of (\d+) articles? matched", page)
    assert found is not None, page
    return int(found[1]), int(found[2])


def backtest(config: Path, query: str) -> tuple[int, int]:
    done = monitor("--config", str(config), "rules", "backtest", "--query", query, "--since", "7d")
    assert done.returncode == 0, done.stderr
    found = re.search(r"(\d+) of (\d+) articles? matched", done.stdout)
    assert found is not None, done.stdout
    return int(found[1]), int(found[2])


def results(base: str, query: str) -> str:
    answer = httpx.get(f"{base}/workbench/results", params={"q": query, "since": "7d"}, timeout=30)
    assert answer.status_code == 200
    return answer.text


def test_the_workbench_counts_what_backtest_counts_and_finds_new_articles(site: tuple[str, Path]) -> None:
    base, config = site
    first = results(base, "Донбасс")
    assert BUILDING in first  # the first search starts the index and replays meanwhile
    deadline = time.monotonic() + 60
    while BUILDING in results(base, "Донбасс"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for query in QUERIES:
        page = results(base, query)
        assert BUILDING not in page and 'class="partial"' not in page
        assert counted(page) == backtest(config, query), query
    found = {query: counted(results(base, query))[0] for query in QUERIES[7:]}
    assert list(found.values()) == [1, 1, 1, 2, 1, 1, 1, 6], found
    assert counted(results(base, "Донбасс")) == (2, 8)

    storage = Storage.open(load_settings(config, {}).database.url)
    try:
        stored(storage, datetime.now(UTC), article("new", "Снова о Донбассе", "Новости.", "ru"))
    finally:
        storage.close()
    page = results(base, "Донбасс")
    assert counted(page) == (3, 9) == backtest(config, "Донбасс")
    assert "Снова о <mark>Донбассе</mark>" in page
