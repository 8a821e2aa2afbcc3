"""The main text of article pages in several languages and layouts, and what is refused before extraction."""

from __future__ import annotations

import codecs

import pytest

from monitor.ingest.extract import MAX_MARKUP, NotHtmlError, main_text, page_markup
from tests.conftest import FIXTURES

PAGES = FIXTURES / "pages"


@pytest.mark.parametrize(
    ("page", "body", "boilerplate"),
    [
        (
            "fr-news.html",  # a news site: menu, breadcrumb, related links, comments, footer
            ["Dans la forme de radoub", "au large de Marioupol", "une dizaine de grands navires"],
            ["Dossier Marioupol", "À lire aussi", "Jean_du_13", "Mentions légales", "Marioupol, un an après"],
        ),
        (
            "fr-aside-only.html",  # the watched word is in the menu, an aside and the footer only
            ["Entre Gap et Briançon", "dès six heures du matin"],
            ["Marioupol", "Vivement l'Izoard", "Les plus lus"],
        ),
        (
            "ru-news.html",
            ["четвёртому автомобильному мосту", "Конкурс на проектирование"],
            ["Тема: мосты", "Читайте также", "Десять лет ждали", "Все права защищены", "кредит на автомобиль"],
        ),
        (
            "de-news.html",
            ["vierten Röhre des Elbtunnels", "zweimal verschoben"],
            ["Hauptnavigation", "Cookies", "Mehr zum Thema", "typisch", "Impressum"],
        ),
        (
            "ar-news.html",  # right to left
            ["محطة جديدة لتحلية مياه البحر", "دراسات الأثر البيئي"],
            ["اقرأ أيضا", "التعليقات", "جميع الحقوق محفوظة", "الرجاء يفوز"],
        ),
        (
            "en-amp.html",  # an AMP page: amp-img, amp-ad, boilerplate styles
            ["Hundreds of acres of farmland", "More rain is forecast for Thursday"],
            ["Jobs", "nothing changes", "Privacy"],
        ),
        (
            "es-divs.html",  # no <p>, no <article>: every block is a <div>
            ["comenzó a circular este jueves", "antes de que acabe el año"],
            ["Lo más leído", "Betis", "Aviso legal", "Deportes"],
        ),
        (
            "en-long-comments.html",  # more words in the comments than in the article
            ["protected cycle lane along the full length", "most customers arrive on foot"],
            ["war on motorists", "knocked off twice", "business rates", "burglaries", "Cookie settings"],
        ),
        (
            "ru-cp1251.html",  # windows-1251, said only by a <meta http-equiv>
            ["подлёдной ловли корюшки", "из-за ремонта набережной"],
            ["Популярное", "Перепечатка запрещена", "Курс доллара"],
        ),
    ],
)
def test_the_main_text_keeps_the_body_and_drops_the_rest(page: str, body: list[str], boilerplate: list[str]) -> None:
    text = main_text(page_markup((PAGES / page).read_bytes(), "text/html"), "https://example.org/a")
    for part in body:
        assert part in text, part
    for part in boilerplate:
        assert part not in text, part


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "application/pdf, not HTML"),
        (b"%PDF-1.7\n1 0 obj", "text/html", "PDF or binary"),  # a PDF sent as HTML
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "PDF or binary"),
        (b'{"title": "not a page"}', None, "does not start like HTML"),
        (b"<html><body><p>x</p></body></html>", "application/json", "application/json, not HTML"),
    ],
)
def test_what_is_not_html_is_refused(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(NotHtmlError, match=reason):
        page_markup(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<p>Genève</p>".encode("latin-1"), "text/html; charset=ISO-8859-1", "<p>Genève</p>"),
        ("<p>“Réunion”</p>".encode("cp1252"), "text/html; charset=iso-8859-1", "<p>“Réunion”</p>"),  # as browsers do
        ('<meta charset="koi8-r"><p>Мост</p>'.encode("koi8-r"), "text/html", '<meta charset="koi8-r"><p>Мост</p>'),
        (codecs.BOM_UTF8 + "<p>Zürich</p>".encode(), None, "<p>Zürich</p>"),
        (codecs.BOM_UTF16_LE + "<p>Zürich</p>".encode("utf-16-le"), "text/html", "<p>Zürich</p>"),
        ("<html><p>Şişli</p>".encode(), "application/xhtml+xml", "<html><p>Şişli</p>"),
        # The header's charset wins over the page's own.
        ('<meta charset="utf-8"><p>Ålesund</p>'.encode("latin-1"), "text/html; charset=latin-1", None),
    ],
)
def test_pages_are_decoded_by_their_charset(body: bytes, content_type: str | None, expected: str | None) -> None:
    markup = page_markup(body, content_type)
    assert markup == (expected if expected is not None else body.decode("latin-1"))


def test_a_page_without_a_charset_is_guessed() -> None:
    text = "<html><body><p>" + "Во Владивостоке начался сезон ловли корюшки. " * 20 + "</p></body></html>"
    assert page_markup(text.encode("cp1251"), "text/html") == text


@pytest.mark.parametrize(
    ("markup", "kept"),
    [
        ("<p>a</p><script>var x = '<p>no</p>';</script><p>b</p>", "<p>a</p><p>b</p>"),
        ("<p>a</p><STYLE type=x>p{}</Style ><p>b</p>", "<p>a</p><p>b</p>"),
        ("<p>a</p><!-- <p>no</p> --><p>b</p>", "<p>a</p><p>b</p>"),
        ("<p>a</p><svg><text>no</text></svg><p>b</p>", "<p>a</p><p>b</p>"),
        ("<p>a</p><script>never closed <p>no</p>", "<p>a</p>"),
        ("<p>a</p><scripts>kept</scripts>", "<p>a</p><scripts>kept</scripts>"),
    ],
)
def test_scripts_styles_and_comments_are_dropped(markup: str, kept: str) -> None:
    assert page_markup(markup.encode(), "text/html") == kept


def test_a_huge_page_is_cut_before_it_is_read() -> None:
    paragraph = "<p>" + "Lorem ipsum dolor sit amet. " * 20 + "</p>"
    body = ("<html><body><article>" + paragraph * 40_000 + "</article>").encode()  # about 23 MB
    markup = page_markup(body, "text/html")
    assert len(markup.encode()) <= MAX_MARKUP and markup.startswith("<html><body><article><p>Lorem")


def test_a_multibyte_character_cut_in_two_is_dropped() -> None:
    markup = page_markup("<p>Über</p>".encode(), "text/html", limit=4)
    assert markup == "<p>"


def test_a_page_without_text_gives_nothing() -> None:
    assert main_text(page_markup(b"<html><body><script>app()</script><div></div></body></html>", "text/html")) == ""
    assert main_text("") == ""


def test_the_text_is_cut_at_max_text() -> None:
    text = main_text(page_markup((PAGES / "fr-news.html").read_bytes(), "text/html"), max_text=1000)
    assert 900 < len(text) <= 1000
