from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import regex

from monitor.delivery.notify.text import (
    CLOSE,
    ELLIPSIS,
    LEAD_CHARS,
    OPEN,
    break_across_marks,
    break_mentions,
    clean,
    excerpt,
    fit,
    iso,
    lead,
    marked,
    one_line,
    split_marked,
    truncate,
    truncate_bytes,
    unmarked,
    utc_label,
    web_url,
)

from .alerts import ASTRONAUT, FAMILY, NORMAL, THUMB, orphans, with_marks

CEST = timezone(timedelta(hours=2))
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want": the ZWNJ is part of the spelling


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Le sommet de l'Otan à Madrid", "Le sommet de l'Otan à Madrid"),
        ("tab\tstays\nnewline stays", "tab\tstays\nnewline stays"),
        ("bell\x07 nul\x00 esc\x1b[31m del\x7f c1\x85\x9f", "bell nul esc[31m del c1"),
        ("windows\r\nmac\rseparators\u2028para\u2029end", "windows\nmac\nseparators\npara\nend"),
        ("\u202eevil\u202c \u202a\u202b\u202d\u2066\u2067\u2068\u2069 \u200e\u200f\u061c", "evil"),
        ("zero\u200b\u200c\u200d\u2060\ufeffwidth", "zerowidth"),
        ("\ufeffBOM first", "BOM first"),
        ("lone\u200b space", "lone space"),
        ("trailing joiner\u200d", "trailing joiner"),
        ("joiner \u200d before a space", "joiner  before a space"),
        (FAMILY, FAMILY),
        (ASTRONAUT + THUMB, ASTRONAUT + THUMB),
        (PERSIAN, PERSIAN),
        ("क्\u200dष", "क्\u200dष"),
        ("Auf\u200clage", "Auf\u200clage"),
        # Beside ASCII punctuation a joiner spells nothing: it would only hide a mention from break_mentions.
        ("@\u200dall _\u200c@here <\u200d!channel> <\u200cat>", "@all _@here <!channel> <at>"),
        ("a\n\n\n\nb\n \n\t\n \nc", "a\n\nb\n\nc"),
        ("trailing   \nspaces\t\n", "trailing\nspaces"),
        ("  \n\n  padded  \n\n ", "padded"),
        ("\u200b\u200b", ""),
        ("", ""),
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Le sommet\n> de l'Otan\r\n\n\t à  Madrid ", "Le sommet > de l'Otan à Madrid"),
        ("a\u2028b\u00a0\u3000c", "a b c"),
        ("\u202e\u200b", ""),
    ],
)
def test_one_line(raw: str, expected: str) -> None:
    assert one_line(raw) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven chars", 11, "eleven cha…"),
        ("word and more", 9, "word and…"),
        ("abc", 0, ""),
        ("abc", 1, "…"),
        ("abc", -5, ""),
        ("", 0, ""),
        ("e\u0301e\u0301e\u0301", 4, "e\u0301…"),
        ("e\u0301e\u0301e\u0301", 6, "e\u0301e\u0301e\u0301"),
        ("ab" + FAMILY + "cd", 8, "ab…"),
        ("ab" + FAMILY + "cd", 10, "ab" + FAMILY + "…"),
        ("a" + THUMB + "b", 3, "a…"),
        ("a" + THUMB + "bc", 4, "a" + THUMB + "…"),
        ("a" + ASTRONAUT + "b", 5, "a…"),
        ("x" + "e" + "\u0301" * 500, 100, "x…"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    out = truncate(text, limit)
    assert out == expected
    assert len(out) <= max(limit, 0)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 5, "short"),
        ("àéîõü", 10, "àéîõü"),
        ("àéîõü", 9, "àéî…"),
        ("àéîõü", 8, "àé…"),
        ("abc", 2, ""),
        ("abcd", 3, "…"),
        ("a" + FAMILY, 26, "a" + FAMILY),
        ("a" + FAMILY, 25, "a…"),
        ("日本語のテキスト", 12, "日本語…"),
    ],
)
def test_truncate_bytes(text: str, limit: int, expected: str) -> None:
    out = truncate_bytes(text, limit)
    assert out == expected
    assert len(out.encode()) <= limit


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8, 9, 10, 50, 99, 100, 101, 255, 256, 257])
@pytest.mark.parametrize("measure", ["chars", "bytes"])
def test_truncate_keeps_whole_graphemes(limit: int, measure: str) -> None:
    text = "ab " + (FAMILY + THUMB + "x" + ASTRONAUT) * 40
    out = truncate(text, limit) if measure == "chars" else truncate_bytes(text, limit)
    size = len(out) if measure == "chars" else len(out.encode())
    assert size <= limit
    if limit < (len(ELLIPSIS) if measure == "chars" else len(ELLIPSIS.encode())):
        assert out == ""
        return
    assert out.endswith(ELLIPSIS)
    kept = regex.findall(r"\X", out[: -len(ELLIPSIS)])
    assert kept == regex.findall(r"\X", text)[: len(kept)]
    assert orphans(out) == ""


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a&b", 10, "a&amp;b"),
        ("a&b&c", 9, "a&amp;b…"),
        ("&&&&", 6, "&amp;…"),
        ("&&&&", 5, "…"),
        ("&", 0, ""),
    ],
)
def test_fit_measures_rendered_text(text: str, limit: int, expected: str) -> None:
    out = fit(text, limit, lambda s: s.replace("&", "&amp;"))
    assert out == expected
    assert len(out) <= limit


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "… avant le [sommet de l'Otan] prévu …",
            [("… avant le ", False), ("sommet de l'Otan", True), (" prévu …", False)],
        ),
        ("[a] and [b]", [("a", True), (" and ", False), ("b", True)]),
        ("no marks", [("no marks", False)]),
        # The article's own marks are text.
        ("a lone ** mark", [("a lone ** mark", False)]),
        ("**bold** [x]", [("**bold** ", False), ("x", True)]),
        ("[across\nlines]", [("across\nlines", True)]),
        # Cut inside a match: the match ends where the cut did, the ellipsis is not part of it.
        ("a [bc…", [("a ", False), ("bc", True), ("…", False)]),
        ("a […", [("a ", False), ("…", False)]),
        ("a ]b", [("a ", False), ("b", False)]),  # a stray CLOSE
        ("", []),
    ],
)
def test_split_marked(snippet: str, expected: list[tuple[str, bool]]) -> None:
    assert split_marked(snippet.replace("[", OPEN).replace("]", CLOSE)) == expected


@pytest.mark.parametrize(
    ("text", "highlights", "written"),
    [
        ("a b c", ((2, 3),), "a [b] c"),
        ("a b c", ((0, 1), (4, 5)), "[a] b [c]"),
        ("a \ue000b\ue001 c", ((3, 4),), "a [b] c"),  # the text's own markers are taken out
        ("a b c", ((2, 3), (2, 3), (4, 4)), "a [b] c"),  # overlapping or empty: skipped
        ("a b", (), "a b"),
    ],
)
def test_marked(text: str, highlights: tuple[tuple[int, int], ...], written: str) -> None:
    assert marked(text, highlights) == written.replace("[", OPEN).replace("]", CLOSE)


@pytest.mark.parametrize(
    ("snippet", "text", "spans"),
    [
        ("a [b] c", "a b c", [[2, 3]]),
        ("[é👍🏽] [x]", "é👍🏽 x", [[0, 3], [4, 5]]),  # in code points
        ("a [bc…", "a bc…", [[2, 4]]),
        ("", "", []),
    ],
)
def test_unmarked(snippet: str, text: str, spans: list[list[int]]) -> None:
    assert unmarked(snippet.replace("[", OPEN).replace("]", CLOSE)) == (text, spans)


@pytest.mark.parametrize(
    ("text", "title", "first"),
    [
        ("NATO leaders meet in Vilnius today. The summit opens.", "", "NATO leaders meet in Vilnius today."),
        # The text starting with the title (as seed files do) is not quoted twice.
        (
            "NATO summit opens. Leaders meet in Vilnius on Tuesday. More.",
            "NATO summit opens",
            "Leaders meet in Vilnius on Tuesday.",
        ),
        ("nato summit opens: leaders meet in Vilnius.", "NATO Summit opens", "leaders meet in Vilnius."),
        # Abbreviations and initials do not end a sentence.
        ("U.S. officials said the summit would open. Then more.", "", "U.S. officials said the summit would open."),
        ("Dr. Smith flew to Vilnius for the summit. Then more.", "", "Dr. Smith flew to Vilnius for the summit."),
        ("« Nous sommes prêts », a-t-il dit. Puis il est parti.", "", "« Nous sommes prêts », a-t-il dit."),
        ('He said "the summit is over." Then he left.', "", 'He said "the summit is over."'),
        ("北约峰会在维尔纽斯开幕。领导人会面。", "", "北约峰会在维尔纽斯开幕。"),
        ("no end at all", "", "no end at all"),
        ("a first line\n\nand its end here. Two.", "", "a first line and its end here."),
        ("", "Title", ""),
        ("Title", "Title", ""),
        ("x" * 1000, "", "x" * (LEAD_CHARS - 1) + "…"),
    ],
)
def test_lead(text: str, title: str, first: str) -> None:
    assert lead(text, title) == first


def test_excerpt_is_the_snippet_or_the_first_sentence() -> None:
    in_text = with_marks(NORMAL, "… avant le **sommet** prévu …")
    assert excerpt(in_text) == f"… avant le {OPEN}sommet{CLOSE} prévu …"
    in_title = with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title")
    assert excerpt(in_title) == "Les Alliés se retrouvent à Madrid pour le sommet de l'Otan."
    assert excerpt(replace(in_title, opening="\u202e\x00")) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@[everyone]", "@\u200b[everyone]"),
        ("x @[bob] <[users/all]>", "x @\u200b[bob] <\u200b[users/all]>"),
        ("mail[@example].com", "mail[@example].com"),  # an address stays whole
        ("@everyone <!here>", "@everyone <!here>"),  # no match in between: break_mentions' job
    ],
)
def test_break_across_marks(text: str, expected: str) -> None:
    def mark(s: str) -> str:
        return s.replace("[", OPEN).replace("]", CLOSE)

    assert break_across_marks(mark(text)) == mark(expected)
    assert break_mentions(mark(text)) == break_mentions(break_across_marks(mark(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@everyone @here @channel", "@\u200beveryone @\u200bhere @\u200bchannel"),
        ("@all @All", "@\u200ball @\u200bAll"),
        ("@Everyone", "@\u200bEveryone"),
        ("@everyoneelse @herewith", "@\u200beveryoneelse @\u200bherewith"),
        ("mail@example.com @someone", "mail@example.com @\u200bsomeone"),
        ("@alice, @bob.smith: hi", "@\u200balice, @\u200bbob.smith: hi"),
        ("x@here x@channel", "x@\u200bhere x@\u200bchannel"),
        ("x@all x@alice", "x@\u200ball x@alice"),
        ("a.@all b-@bob c:@carol (@dave)", "a.@\u200ball b-@\u200bbob c:@\u200bcarol (@\u200bdave)"),
        ("<@U123> &lt;@U1&gt;", "<\u200b@\u200bU123> &lt;@\u200bU1&gt;"),
        # Only an ASCII letter or digit keeps an "@" whole: Mattermost's web app (ASCII \b) starts a mention
        # after "é", and its server splits words at a combining mark.
        ("e\u0301@here é@bob _@bob 2@bob", "e\u0301@\u200bhere é@\u200bbob _@\u200bbob 2@bob"),
        # Mattermost trims "_" (and its Markdown escape "\_" puts one there) before looking for a mention.
        (
            "_@all x_@all \\_@all __@someone x\\_@bob",
            "_@\u200ball x_@\u200ball \\_@\u200ball __@\u200bsomeone x\\_@\u200bbob",
        ),
        ("\\@all \\@bob *@bob", "\\@\u200ball \\@\u200bbob *@\u200bbob"),
        ("@_bob @.bob @-bob @:bob", "@\u200b_bob @\u200b.bob @\u200b-bob @\u200b:bob"),
        ("@@here @ alone @", "@@\u200bhere @ alone @"),
        ("@\u200bhere", "@\u200bhere"),
        # The platforms' own syntax: Slack and Mattermost <!here>, Google Chat <users/all>, Teams <at>, Discord.
        (
            "<!here> <!subteam^S1> <users/all> <at>bob</at> <#C1> </cmd:1> a < b <3",
            "<\u200b!here> <\u200b!subteam^S1> <\u200busers/all> <\u200bat>bob<\u200b/at> <\u200b#C1> <\u200b/cmd:1>"
            " a < b <3",
        ),
    ],
)
def test_break_mentions(text: str, expected: str) -> None:
    assert break_mentions(text) == expected
    assert break_mentions(expected) == expected


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (None, ""),
        (datetime(2022, 6, 15, 10, 0, tzinfo=UTC), "2022-06-15 10:00 UTC"),
        (datetime(2022, 6, 16, 0, 30, 59, tzinfo=CEST), "2022-06-15 22:30 UTC"),
        (datetime(2022, 6, 15, 10, 0), "2022-06-15 10:00 UTC"),
    ],
)
def test_utc_label(dt: datetime | None, expected: str) -> None:
    assert utc_label(dt) == expected


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (None, None),
        (datetime(2022, 6, 15, 10, 0, tzinfo=UTC), "2022-06-15T10:00:00Z"),
        (datetime(2022, 6, 15, 12, 0, tzinfo=CEST), "2022-06-15T10:00:00Z"),
        (datetime(2022, 6, 15, 10, 0), "2022-06-15T10:00:00Z"),
        (datetime(2022, 6, 15, 10, 0, 59, 999_999, tzinfo=UTC), "2022-06-15T10:00:59Z"),
        (datetime(2022, 6, 16, 0, 30, tzinfo=CEST), "2022-06-15T22:30:00Z"),
    ],
)
def test_iso(dt: datetime | None, expected: str | None) -> None:
    assert iso(dt) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, None),
        ("", None),
        ("https://www.lemonde.fr/a/b.html?x=1&y=2#top", "https://www.lemonde.fr/a/b.html?x=1&y=2#top"),
        ("HTTP://Example.COM:8080/", "http://example.com:8080/"),
        ("https://example.com/a|b>c?q=<x>", "https://example.com/a%7Cb%3Ec?q=%3Cx%3E"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://[::1]:8000/x", "https://[::1]:8000/x"),
        ("https://example.com/\u202egpj.exe", "https://example.com/gpj.exe"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("ftp://example.com/", None),
        ("//example.com/relative", None),
        ("/relative/path", None),
        ("https://example.com/with space", None),
        ("https://bank.example@evil.example/", None),
        ("https://user:pass@example.com/", None),
        ("https://example.com:99999/", None),
        ("https://exa<mple>.com/", None),
        ("https://" + "a" * 2100 + ".com/", None),
    ],
)
def test_web_url(url: str | None, expected: str | None) -> None:
    assert web_url(url) == expected
