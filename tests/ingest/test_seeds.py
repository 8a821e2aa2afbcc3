from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest.seeds import first_sentence, markdown_to_text, parse_seed, scan


def test_shipped_seed(seed_text: str) -> None:
    article = parse_seed("otan-defense-ministers-2022-06.txt", seed_text)
    assert article is not None
    assert article.title == "Renforcer le soutien à l'Ukraine et améliorer les capacités de défense de l'OTAN"
    assert article.published == datetime(2022, 6, 1, tzinfo=UTC)
    assert article.source == "seeds/otan-defense-ministers-2022-06.txt"
    assert article.language == "fr"
    assert article.url is None
    assert article.content_key.startswith("sha256:")
    assert "**" not in article.text
    assert "l'Ukraine réclame toujours des armes supplémentaires et insiste" in article.text
    assert "sommet de l'Otan prévu à la fin du mois à Madrid" in article.text
    assert not article.text.startswith("date")


@pytest.mark.parametrize(
    ("raw", "published", "text"),
    [
        ("date 2022-06 Hello world.", datetime(2022, 6, 1, tzinfo=UTC), "Hello world."),
        ("date 2022-06-15\nHello world.", datetime(2022, 6, 15, tzinfo=UTC), "Hello world."),
        ("date: 2022-06-15T10:30:00+02:00 Hello.", datetime(2022, 6, 15, 8, 30, tzinfo=UTC), "Hello."),
        ("date 2022-06-15 12:00Z Hi there.", datetime(2022, 6, 15, 12, 0, tzinfo=UTC), "Hi there."),
        ("\ufeffdate 2021-01 Text.", datetime(2021, 1, 1, tzinfo=UTC), "Text."),
        ("Just text, no date line.", None, "Just text, no date line."),
        ("date 2022-13 Bad month.", None, "date 2022-13 Bad month."),
        ("dated material is here.", None, "dated material is here."),
    ],
)
def test_date_line(raw: str, published: datetime | None, text: str) -> None:
    article = parse_seed("a.txt", raw)
    assert article is not None
    assert article.published == published
    assert article.text == text


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("l'**Ukraine réclame des armes supplémentaire**s", "l'Ukraine réclame des armes supplémentaires"),
        ("*une* _deux_ __trois__ ***quatre***", "une deux trois quatre"),
        ("# Titre\n\nCorps du [lien](http://x.test) et `code`.", "Titre\n\nCorps du lien et code."),
        ("- un\n- deux", "un\n\ndeux"),
        ("ligne une\nligne deux", "ligne une ligne deux"),
        ("10 000 hommes", "10 000 hommes"),
    ],
)
def test_markdown_to_text(markdown: str, text: str) -> None:
    assert markdown_to_text(markdown) == text


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("First sentence. Second one.", "First sentence"),
        ("Is it a question? Yes.", "Is it a question?"),
        ("No end at all", "No end at all"),
        ("Version 2.0 is out. More.", "Version 2.0 is out"),
        ("Première ligne\nSeconde ligne.", "Première ligne"),
        ("北约峰会在马德里举行。第二句。", "北约峰会在马德里举行。"),
        ("word " * 100, ("word " * 40).strip() + "…"),
    ],
)
def test_first_sentence(text: str, title: str) -> None:
    assert first_sentence(text) == title


def test_empty_seed_is_skipped() -> None:
    assert parse_seed("empty.txt", "date 2022-06   \n\n") is None


def test_scan_reads_text_and_markdown_only(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("B.", encoding="utf-8")
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("H.", encoding="utf-8")
    files = scan(tmp_path)
    assert [f.name for f in files] == ["a.txt", "sub/b.md"]
    assert len(files[0].digest) == 64
    assert scan(tmp_path / "missing") == []
