from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.ingest.normalize import article_keys, fold, plausible_published

TEXT = "Leaders met in Vilnius."


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("g1", "https://news.example/a", "feed"), ("g1", "https://news.example/a", "feed")),
        (
            ("g1", "https://news.example/a?utm_source=rss&utm_medium=x", "feed"),
            ("g2", "https://news.example/a", "feed"),
        ),
        (("g1", "https://news.example/a?fbclid=1", "feed"), (None, "https://news.example/a?gclid=2", "other")),
        (("g1", "https://NEWS.example:443/a#comments", "feed"), ("g9", "https://news.example/a", "other")),
        (("g1", None, "feed"), ("g1", None, "feed")),
        (("g1", None, "feed"), ("g2", None, "other")),  # same title and text: the fingerprint
        (("https://news.example/a", None, "feed"), (None, "https://news.example/a", "other")),
    ],
    ids=["same", "utm-and-new-guid", "fbclid-gclid", "host-port-fragment", "guid", "fingerprint", "guid-url"],
)
def test_copies_share_a_key(a: tuple[str | None, str | None, str], b: tuple[str | None, str | None, str]) -> None:
    keys_a = article_keys(a[0], a[1], "NATO summit", TEXT, a[2])
    keys_b = article_keys(b[0], b[1], "NATO summit", TEXT, b[2])
    assert set(keys_a) & set(keys_b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("g1", "https://news.example/a", "NATO summit", TEXT), ("g2", "https://news.example/b", "Rates", "Held.")),
        (("g1", "https://news.example/a?id=1", "T", "x"), ("g2", "https://news.example/a?id=2", "U", "y")),
        (("g1", None, "T", "x"), ("g1", None, "U", "y")),  # a GUID other than a URL is scoped to its feed
        (("g1", None, "Live", ""), ("g2", None, "Live", "")),  # no text: no fingerprint
    ],
    ids=["different", "query-kept", "guid-scoped", "bare-title"],
)
def test_different_articles_share_no_key(
    a: tuple[str | None, str | None, str, str], b: tuple[str | None, str | None, str, str]
) -> None:
    scope_b = "other" if a[0] == b[0] else "feed"
    assert not set(article_keys(*a, "feed")) & set(article_keys(*b, scope_b))


@pytest.mark.parametrize(
    ("title", "edited"),
    [
        ("NATO summit opens", "nato summit opens"),
        ("NATO summit opens", "NATO summit opens!"),
        ("NATO  summit\n opens", "NATO summit opens"),
        ("Sécurité à Genève", "Securite a Geneve"),
        ("L'Otan se réunit", "L’OTAN se réunit"),
    ],
)
def test_a_trivially_edited_title_keeps_the_fingerprint(title: str, edited: str) -> None:
    assert fold(title) == fold(edited)
    assert article_keys(None, None, title, TEXT, "a")[-1] == article_keys(None, None, edited, TEXT, "b")[-1]


def test_a_reworded_title_changes_the_fingerprint() -> None:
    assert article_keys(None, None, "NATO summit opens", TEXT, "a") != article_keys(
        None, None, "NATO summit closes", TEXT, "a"
    )


FETCHED = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        (None, None),
        (FETCHED - timedelta(days=3), FETCHED - timedelta(days=3)),
        (FETCHED + timedelta(hours=23), FETCHED + timedelta(hours=23)),
        (FETCHED + timedelta(days=1, minutes=1), FETCHED),
        (FETCHED + timedelta(days=400), FETCHED),
    ],
)
def test_a_date_far_in_the_future_becomes_the_fetch_time(published: datetime | None, expected: datetime | None) -> None:
    assert plausible_published(published, FETCHED) == expected
