"""Alerts shared by the renderer tests: an ordinary French one and a hostile one."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from monitor.delivery.notify import AlertMessage, ArticleRef
from monitor.store.message import unmark

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy joined by ZWJ
THUMB = "\U0001f44d\U0001f3fd"  # thumbs up, medium skin tone
ASTRONAUT = "\U0001f469\U0001f3ff\u200d\U0001f680"  # woman astronaut, dark skin tone
EMOJI = (FAMILY, THUMB, ASTRONAUT)
MENTIONS = "<!channel> <!here> @everyone @here @all @channel @alice <@U123> <http://evil|click>"
RTL_OVERRIDE = "\u202e"
ZERO_WIDTH_RUN = "\u200b\u200c\u200d\u2060\ufeff"
CONTROLS = "\x00\x07\x1b[31m\x7f\x85"

NORMAL = AlertMessage(
    id=42,
    rule="Otan",
    query='"sommet de l\'Otan" OR Madrid',
    article=ArticleRef(
        title="Le sommet de l'Otan à Madrid",
        url="https://www.lemonde.fr/international/article/2022/06/15/otan-madrid_6130000_3210.html",
        source="Le Monde",
        published=datetime(2022, 6, 15, 10, 0, tzinfo=UTC),
        language="fr",
    ),
    snippet="… avant le sommet de l'Otan prévu …",
    highlights=((11, 27),),
    opening="Les Alliés se retrouvent à Madrid pour le sommet de l'Otan. Il s'ouvre mardi.",
    matched=("sommet de l'Otan",),
    created_at=datetime(2022, 6, 15, 10, 5, 30, tzinfo=UTC),
    also_in=(
        ArticleRef(
            title="Sommet de l'Otan : les Alliés réunis à Madrid",
            url="https://www.lefigaro.fr/international/sommet-otan-madrid-20220615",
            source="Le Figaro",
            published=datetime(2022, 6, 15, 10, 20, tzinfo=UTC),
            language=None,
        ),
    ),
)


def _padded(head: str, length: int) -> str:
    """Return head followed by whole emoji clusters (and spaces), then dots, to exactly length characters."""
    text = head
    index = 0
    while len(text) + len(EMOJI[index % len(EMOJI)]) + 1 <= length:
        text += EMOJI[index % len(EMOJI)] + " " * (index % 2)
        index += 1
    return text.ljust(length, ".")


_TITLE_HEAD = (
    f"{MENTIONS} {RTL_OVERRIDE}kcatta{ZERO_WIDTH_RUN}x{CONTROLS} A & B | C > D *b* _i_ ~s~ `c` [x](http://e)\n"
    "> quote\n# heading\n- item\n1. first\n\n\n\n"
)
# The article's own asterisks, tags and private-use characters are text; only the highlights are matches.
FEED_MARKUP = "a lone ** and **the feed's own bold** \ue000not a match\ue001 <b>bold</b>"
_SNIPPET_HEAD = f"{MENTIONS} {RTL_OVERRIDE}{ZERO_WIDTH_RUN} a b|c and {FEED_MARKUP} & {CONTROLS}\n"
HOSTILE_TITLE = _padded(_TITLE_HEAD, 5000)
HOSTILE_SNIPPET = _padded(_SNIPPET_HEAD, 10_000)
# The mentions, "b|c", and a match that runs to the end of the snippet, past every platform's cut.
HOSTILE_HIGHLIGHTS = (
    (0, len(MENTIONS)),
    (_SNIPPET_HEAD.index("b|c"), _SNIPPET_HEAD.index("b|c") + 3),
    (HOSTILE_SNIPPET.index(" ", 9_000) + 1, 10_000),
)

HOSTILE = AlertMessage(
    id=666,
    rule=f"rule {MENTIONS}",
    query="evil",
    article=ArticleRef(
        title=HOSTILE_TITLE,
        url="https://evil.example/a|b>c?x=1&y=<2>#frag",
        source=f"Evil {MENTIONS} {RTL_OVERRIDE}Source",
        published=datetime(2022, 6, 15, 12, 0),
        language="xx",
    ),
    snippet=HOSTILE_SNIPPET,
    highlights=HOSTILE_HIGHLIGHTS,
    opening=HOSTILE_SNIPPET,
    matched=(f"{MENTIONS}", "x" * 2_000, *EMOJI),
    created_at=datetime(2022, 6, 15, 12, 0, tzinfo=UTC),
)


def with_marks(alert: AlertMessage, snippet: str, **changes: Any) -> AlertMessage:
    """Return alert with a snippet written with ``**`` around its matches (as the tests write them)."""
    text, highlights = unmark(snippet)
    return replace(alert, snippet=text, highlights=highlights, **changes)


def strings(value: object) -> list[str]:
    """Return every string inside a JSON-like value, keys excluded."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    return []


def orphans(text: str) -> str:
    """Return what is left of text's emoji machinery (ZWJ, skin tones) once whole clusters are removed."""
    for cluster in sorted(EMOJI, key=len, reverse=True):
        text = text.replace(cluster, "")
    return "".join(c for c in text if c == "\u200d" or "\U0001f3fb" <= c <= "\U0001f3ff")


# "@" then a letter where a mention can start: what Mattermost, Slack and Discord would read as a mention.
_LIVE_MENTION = re.compile(r"(?<!\w)@\w|@(?:everyone|here|channel|all)", re.IGNORECASE)


def live_mentions(text: str) -> list[str]:
    """Return the @mentions in text that a chat platform would act on (broken ones excluded)."""
    return [match.group() for match in _LIVE_MENTION.finditer(text)]


def broken_text(text: str) -> str:
    """Return the lone surrogates, orphaned emoji parts and joiners left dangling before an ellipsis in text."""
    surrogates = "".join(c for c in text if "\ud800" <= c <= "\udfff")
    dangling = "\u200d" if "\u200d…" in text or text.endswith("\u200d") else ""
    return surrogates + orphans(text) + dangling
