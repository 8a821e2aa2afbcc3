from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from monitor.delivery.notify import mattermost

from .alerts import HOSTILE, NORMAL, strings, with_marks

# Outside our own "**" and "[label](url)", no Markdown mark may stand without its backslash.
UNESCAPED = re.compile(r"(?<!\\)[*_~`|\[\]]")


def attachment(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the single attachment of a payload."""
    (only,) = payload["attachments"]
    assert isinstance(only, dict)
    return only


def test_render_normal() -> None:
    assert mattermost.render(NORMAL) == {
        "text": f"**Otan** · [Le sommet de l'Otan à Madrid]({NORMAL.article.url})",
        "attachments": [
            {
                "fallback": "Otan: Le sommet de l'Otan à Madrid",
                "color": "#1c58d9",
                "text": "… avant le **sommet de l'Otan** prévu …",
                "fields": [
                    {"title": "Source", "value": "Le Monde", "short": True},
                    {"title": "Published", "value": "2022-06-15 10:00 UTC", "short": True},
                    {"title": "Matched", "value": "sommet de l'Otan", "short": False},
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("rule", "article", "text"),
    [
        ("Otan", {"url": None}, "**Otan** · Le sommet de l'Otan à Madrid"),
        ("Otan", {"url": "javascript:alert(1)"}, "**Otan** · Le sommet de l'Otan à Madrid"),
        ("", {"url": None}, "Le sommet de l'Otan à Madrid"),
        ("Otan", {"title": "", "url": None}, "**Otan** · (untitled)"),
        (
            "Otan",
            {"title": "A (b)", "url": "https://x.example/wiki/A_(b)"},
            "**Otan** · [A (b)](https://x.example/wiki/A_%28b%29)",
        ),
        (
            "a*b_c",
            {"title": "[x](http://evil) <!channel> & @all", "url": None},
            "**a\\*b\\_c** · \\[x\\](http://evil) &lt;!channel&gt; &amp; @\u200ball",
        ),
        # The title is escaped as if it started a line, as it does when there is no rule.
        ("Otan", {"title": "# Big\n- list", "url": None}, "**Otan** · \\# Big - list"),
        ("", {"title": "1. Big", "url": None}, "1\\. Big"),
    ],
)
def test_text(rule: str, article: dict[str, Any], text: str) -> None:
    alert = replace(NORMAL, rule=rule, article=replace(NORMAL.article, **article))
    assert mattermost.render(alert)["text"] == text


@pytest.mark.parametrize(
    ("snippet", "text"),
    [
        ("… avant le **sommet** prévu …", "… avant le **sommet** prévu …"),
        ("un ** sommet ** prévu", "un  **sommet**  prévu"),
        ("a*b*c _d_ ~e~ `f` |g| [h](http://x)", "a\\*b\\*c \\_d\\_ \\~e\\~ \\`f\\` \\|g\\| \\[h\\](http://x)"),
        (r"back\slash", r"back\\slash"),
        (
            "# head\n- item\n+ item\n12. item\n3) item\n---\n===\n> quote",
            "\\# head\n\\- item\n\\+ item\n12\\. item\n3\\) item\n\\---\n\\===\n&gt; quote",
        ),
        ("a - b # c 1. d", "a - b # c 1. d"),
        (
            "<!channel> <!here> <@U1> <http://x|y> & @here @all @channel @bob mail@example.com",
            "&lt;!channel&gt; &lt;!here&gt; &lt;@\u200bU1&gt; &lt;http://x\\|y&gt; &amp; "
            "@\u200bhere @\u200ball @\u200bchannel @\u200bbob mail@example.com",
        ),
        ("**@here**", "**@\u200bhere**"),
        ("a lone ** mark", "a lone \\*\\* mark"),
    ],
)
def test_snippet_markdown(snippet: str, text: str) -> None:
    assert attachment(mattermost.render(with_marks(NORMAL, snippet)))["text"] == text


@pytest.mark.parametrize(
    ("snippet", "highlights", "shown"),
    [
        # The article's own asterisks are escaped; only the match is bold.
        ("**Breaking** NATO", ((13, 17),), "\\*\\*Breaking\\*\\* **NATO**"),
        # A match right after "@" still cannot make a mention.
        ("@everyone", ((1, 9),), "@\u200b**everyone**"),
        ("x @here", ((3, 7),), "x @\u200b**here**"),
    ],
)
def test_highlights_not_marks_make_bold(snippet: str, highlights: tuple[tuple[int, int], ...], shown: str) -> None:
    alert = replace(NORMAL, snippet=snippet, highlights=highlights)
    assert attachment(mattermost.render(alert))["text"] == shown


def test_a_match_in_the_title_quotes_the_first_sentence_of_the_text() -> None:
    alert = with_marks(NORMAL, "Le **sommet** de l'Otan à Madrid", field="title")
    payload = mattermost.render(alert)
    assert attachment(payload)["text"] == "Les Alliés se retrouvent à Madrid pour le sommet de l'Otan."
    assert json.dumps(payload, ensure_ascii=False).count("Le sommet de l'Otan à Madrid") == 2  # the link, the fallback


@pytest.mark.parametrize(
    ("changes", "titles"),
    [
        ({}, ["Source", "Published", "Matched"]),
        ({"matched": ()}, ["Source", "Published"]),
        ({"article": replace(NORMAL.article, published=None, source="")}, ["Matched"]),
    ],
)
def test_fields_left_out_when_empty(changes: dict[str, Any], titles: list[str]) -> None:
    fields = attachment(mattermost.render(replace(NORMAL, **changes)))["fields"]
    assert [field["title"] for field in fields] == titles
    assert all(field["value"] for field in fields)


def test_hostile_limits_and_escaping() -> None:
    payload = mattermost.render(HOSTILE)
    assert len(payload["text"]) <= mattermost.TEXT_LIMIT
    body = attachment(payload)
    assert body["text"].endswith("…")
    assert not any("<" in text for text in strings(payload))
    markdown = [payload["text"], body["text"], *(field["value"] for field in body["fields"])]
    for text in markdown:
        ours = re.sub(r"\*\*|\]\(https://evil\.example/[^)\s]*\)", "", text).replace("[", "", 1)
        assert UNESCAPED.search(ours) is None, ours[:200]
    link = re.search(r"\]\((\S+)\)$", payload["text"])
    assert link is not None and link.group(1) == "https://evil.example/a%7Cb%3Ec?x=1&y=%3C2%3E#frag"
