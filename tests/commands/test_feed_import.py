"""``monitor import-opml`` and ``monitor feeds add``: feeds added to the settings file, its comments kept."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.commands.import_opml import plan
from monitor.ingest import netguard
from monitor.ingest.discover import FoundFeed, OpmlError, alternate_feeds, parse_opml, slugify, unique_name
from monitor.ingest.netguard import Address
from tests.commands.test_status import Terminal
from tests.conftest import FIXTURES
from tests.feedserver import FeedServer, reply

SETTINGS = """# My newsroom settings
[seeds]
enabled = false   # no local files

# The feeds we read
[[feeds]]
name = "world"
url = "https://example.org/world.xml"
"""
OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News">
    <outline text="Le Monde" title="Le Monde - International" type="rss" xmlUrl="https://www.lemonde.fr/rss.xml"/>
    <outline text="World" xmlUrl="https://example.org/world.xml"/>
    <outline text="Tech"><outline text="World" xmlUrl="https://tech.example.org/feed"/></outline>
  </outline>
  <outline text="no feed here" htmlUrl="https://example.org/"/>
</body></opml>"""


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "slug"),
    [("Le Monde - International", "le-monde-international"), ("Ελληνικά", "feed"), ("Café  Crème!", "cafe-creme")],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(("wanted", "taken", "name"), [("a", [], "a"), ("a", ["a"], "a-2"), ("a", ["a", "a-2"], "a-3")])
def test_unique_name(wanted: str, taken: list[str], name: str) -> None:
    assert unique_name(wanted, taken) == name


def test_parse_opml_reads_nested_outlines() -> None:
    assert [feed.url for feed in parse_opml(OPML)] == [
        "https://www.lemonde.fr/rss.xml",
        "https://example.org/world.xml",
        "https://tech.example.org/feed",
    ]


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><opml><body/></opml>',
        b"<opml><body><outline",
        b"<rss/>",
    ],
)
def test_parse_opml_refuses(document: bytes) -> None:
    with pytest.raises(OpmlError):
        parse_opml(document)


def test_plan_skips_configured_urls_and_makes_names_unique() -> None:
    found = [FoundFeed("https://a.org/f", "World"), FoundFeed("https://w.org/f", ""), FoundFeed("ftp://x/", "x")]
    found.append(FoundFeed("http://h.org:99999/f", "bad port"))
    added, skipped = plan(found, [("world", "https://w.org/f")])
    assert added == [("world-2", "https://a.org/f")]
    assert skipped == [
        ("https://w.org/f", "already configured"),
        ("ftp://x/", "not an http or https URL"),
        ("http://h.org:99999/f", "not a valid URL: port 99999 is not from 1 to 65535"),
    ]


@pytest.mark.parametrize(
    ("html", "urls"),
    [
        ('<link rel="alternate" type="application/rss+xml" href="/rss.xml">', ["http://site.test/rss.xml"]),
        (
            '<link rel="Alternate" type="application/atom+xml" href="atom" title="A">'
            '<link rel="alternate" type="text/html" href="/fr/">'
            '<link rel="alternate" type="application/rss+xml" href="https://cdn.test/r.xml">',
            ["http://site.test/news/atom", "https://cdn.test/r.xml"],
        ),
        ('<link rel="stylesheet" href="/s.css">', []),
        (
            '<link rel="alternate" type="application/rss+xml" href="http://[::1/x">'
            '<link rel="alternate" type="application/rss+xml" href="/ok.xml">',
            ["http://site.test/ok.xml"],
        ),
    ],
)
def test_alternate_feeds(html: str, urls: list[str]) -> None:
    assert [feed.url for feed in alternate_feeds(html, "http://site.test/news/")] == urls


def test_import_opml_appends_feeds_and_keeps_comments(
    settings_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_bytes(OPML)
    assert main(["--config", str(settings_file), "import-opml", str(opml)], environ={}) == 0
    text = settings_file.read_text(encoding="utf-8")
    assert text.startswith(SETTINGS)
    assert 'name = "le-monde-international"' in text
    assert 'name = "world-2"\nurl = "https://tech.example.org/feed"' in text
    out = capsys.readouterr().out
    assert "skipped: https://example.org/world.xml (already configured)" in out
    assert "2 added, 1 skipped" in out
    assert main(["--config", str(settings_file), "import-opml", str(opml)], environ={}) == 0
    assert settings_file.read_text(encoding="utf-8") == text


def test_import_opml_dry_run_writes_nothing(
    settings_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_bytes(OPML)
    assert main(["--config", str(settings_file), "import-opml", "--dry-run", str(opml)], environ={}) == 0
    assert settings_file.read_text(encoding="utf-8") == SETTINGS
    assert capsys.readouterr().out.splitlines() == [
        "would add: le-monde-international https://www.lemonde.fr/rss.xml",
        "would add: world-2 https://tech.example.org/feed",
        "skipped: https://example.org/world.xml (already configured)",
        "2 would be added, 1 skipped (dry run: nothing written)",
    ]


RULES_LAST = SETTINGS + '\n# What we watch\n[[rules]]\nname = "NATO summit"\nquery = "nato"\n'


def test_import_opml_appends_after_everything_else(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(RULES_LAST, encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_bytes(OPML)
    assert main(["--config", str(settings_file), "import-opml", str(opml)], environ={}) == 0
    text = settings_file.read_text(encoding="utf-8")
    assert text.startswith(RULES_LAST)  # the rules stay where they were; the new feeds come after them
    assert text[len(RULES_LAST) :].count("[[feeds]]") == 2 and "[[rules]]" not in text[len(RULES_LAST) :]
    assert "2 added, 1 skipped" in capsys.readouterr().out


def subscriptions(count: int) -> bytes:
    """Return an OPML document of ``count`` feeds."""
    outlines = "".join(f'<outline text="Site {n}" xmlUrl="https://site{n}.example.org/feed"/>' for n in range(count))
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'.encode()


@pytest.mark.parametrize(("stream", "drawn"), [(io.StringIO(), False), (Terminal(), True)])
def test_import_opml_shows_progress_only_on_a_terminal(
    settings_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stream: io.StringIO,
    drawn: bool,
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_bytes(subscriptions(300))
    monkeypatch.setattr(sys, "stderr", stream)
    assert main(["--config", str(settings_file), "import-opml", str(opml)], environ={}) == 0
    out = capsys.readouterr().out
    assert "300 added, 0 skipped" in out and "\x1b[" not in out and "import-opml" not in out
    assert settings_file.read_text(encoding="utf-8").count("[[feeds]]") == 301
    if drawn:
        assert "import-opml" in stream.getvalue() and "\x1b[" in stream.getvalue()
        assert "300/300" in stream.getvalue()  # advanced once per feed written
    else:
        assert stream.getvalue() == ""


@pytest.mark.parametrize("content", [None, b"<!DOCTYPE x><opml/>", b"not xml"])
def test_import_opml_bad_file_exits_2(settings_file: Path, tmp_path: Path, content: bytes | None) -> None:
    opml = tmp_path / "subs.opml"
    if content is not None:
        opml.write_bytes(content)
    assert main(["--config", str(settings_file), "import-opml", str(opml)], environ={}) == 2
    assert settings_file.read_text(encoding="utf-8") == SETTINGS


@pytest.mark.integration
def test_feeds_add_discovers_the_feed_of_a_page(settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head></html>'
    feed = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
    with FeedServer() as server:
        server.routes["/"] = reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        server.routes["/feed.xml"] = reply(200, feed, {"Content-Type": "application/rss+xml"})
        config = ["--config", str(settings_file)]
        assert main([*config, "feeds", "add", server.url("/")], environ={}) == 0
        assert main([*config, "feeds", "add", server.url("/feed.xml"), "--name", "again"], environ={}) == 0
        assert main([*config, "feeds", "add", "ftp://nowhere/"], environ={}) == 2
        assert main([*config, "feeds", "add", server.url("/missing")], environ={}) == 1
    text = settings_file.read_text(encoding="utf-8")
    assert text.startswith(SETTINGS)
    assert text.count(f'url = "{server.url("/feed.xml")}"') == 1
    assert "skipped:" in capsys.readouterr().out
    assert main(["--config", str(settings_file), "feeds", "--json"], environ={}) == 0


@pytest.fixture
def public_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``public.test`` to 127.0.0.1 counted as public, ``intranet.test`` to 10.0.0.7, ``gone.test`` to none."""
    fixed = {"public.test": [Address("127.0.0.1", True)], "intranet.test": [Address("10.0.0.7", False)]}

    def resolve(host: str, port: int) -> list[Address]:
        if host == "gone.test":
            raise OSError("Name or service not known")
        return fixed.get(host) or netguard.system_resolve(host, port)

    monkeypatch.setattr(netguard, "resolve", resolve)


def page_linking(*hrefs: str) -> bytes:
    links = "".join(f'<link rel="alternate" type="application/rss+xml" href="{href}">' for href in hrefs)
    return f"<html><head>{links}</head></html>".encode()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("page_host", "links", "code", "message"),
    [
        ("public.test", ["http://127.0.0.1:{port}/feed.xml"], 2, "refused: 127.0.0.1 resolves to 127.0.0.1"),
        ("public.test", ["http://[::1]:{port}/feed.xml"], 2, "refused: ::1 resolves to ::1, not a public address"),
        ("public.test", ["http://intranet.test/feed.xml"], 2, "refused: intranet.test resolves to 10.0.0.7"),
        ("public.test", ["http://169.254.169.254/latest/"], 2, "resolves to 169.254.169.254, not a public address"),
        ("public.test", ["/feed.xml", "http://intranet.test/x.xml"], 2, "links to the feed http://intranet.test/x"),
        ("public.test", ["http://999.1.1.1/feed.xml"], 2, "'http://999.1.1.1/feed.xml' is not a valid URL"),
        ("public.test", ["http://[::1/feed.xml", "http://intranet.test/"], 2, "resolves to 10.0.0.7"),
        ("public.test", ["http://gone.test/feed.xml"], 1, "cannot resolve gone.test"),
        ("public.test", ["/feed.xml"], 0, None),  # public.test, public too
        ("127.0.0.1", ["http://intranet.test/feed.xml"], 0, None),  # the operator's own page: anywhere
    ],
)
def test_feeds_add_lets_a_public_page_add_public_feeds_only(
    settings_file: Path,
    capsys: pytest.CaptureFixture[str],
    public_test: None,
    page_host: str,
    links: list[str],
    code: int,
    message: str | None,
) -> None:
    feed = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
    with FeedServer() as server:
        page = page_linking(*(link.format(port=server.port) for link in links))
        server.routes["/"] = reply(200, page, {"Content-Type": "text/html"})
        server.routes["/feed.xml"] = reply(200, feed, {"Content-Type": "application/rss+xml"})
        url = server.url("/", host=page_host)
        assert main(["--config", str(settings_file), "feeds", "add", url, "--all"], environ={}) == code
    err = capsys.readouterr().err
    if message is None:
        assert err == "" and settings_file.read_text(encoding="utf-8").count("[[feeds]]") == 2
        return
    assert err.startswith(f"error: {url} links to the feed ") and message in err
    assert settings_file.read_text(encoding="utf-8") == SETTINGS  # nothing added, not even the public links
    if code == 2:
        assert err.rstrip().endswith("(a page on a public address may only add feeds on public addresses)")


@pytest.mark.integration
def test_feeds_add_takes_a_typed_internal_url_as_it_is(
    settings_file: Path, public_test: None, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
    with FeedServer() as server:
        server.routes["/feed.xml"] = reply(200, feed, {"Content-Type": "application/rss+xml"})
        assert main(["--config", str(settings_file), "feeds", "add", server.url("/feed.xml")], environ={}) == 0
    assert f'url = "{server.url("/feed.xml")}"' in settings_file.read_text(encoding="utf-8")
    assert capsys.readouterr().out.startswith("added: ")


@pytest.mark.integration
def test_feeds_add_appends_at_the_end_of_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(RULES_LAST, encoding="utf-8")
    feed = (FIXTURES / "feeds" / "rss2.xml").read_bytes()
    with FeedServer() as server:
        server.routes["/feed.xml"] = reply(200, feed, {"Content-Type": "application/rss+xml"})
        config = ["--config", str(settings_file)]
        assert main([*config, "feeds", "add", server.url("/feed.xml"), "--name", "desk"], environ={}) == 0
    text = settings_file.read_text(encoding="utf-8")
    assert text == f'{RULES_LAST}\n[[feeds]]\nname = "desk"\nurl = "{server.url("/feed.xml")}"\n'
    assert capsys.readouterr().out == f"added: desk {server.url('/feed.xml')}\n"
