"""``html_to_text`` and ``clean_text`` give, byte for byte, what their plain versions below give.

The plain versions parse every fragment with Lexbor and clean its text with regular expressions; they are kept
here as the specification that the faster code in ``normalize`` (which skips passes that cannot change the
result, and cleans text line by line) must meet on any input: nested blocks and lists, dropped elements,
images, entities, comments, white space of every kind, text in many scripts, and broken markup.
"""

from __future__ import annotations

import html
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from monitor.ingest.normalize import clean_text, html_to_text

_BLOCK_TAGS = (
    "p,br,div,li,ul,ol,h1,h2,h3,h4,h5,h6,blockquote,pre,table,tr,section,article,header,footer,figure,"
    "figcaption,hr,dd,dt"
)
_DROP_TAGS = "script,style,noscript,template,iframe,object,svg"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]"
_SPACES = re.compile(rf"[\t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]{_SPACE}*| {_SPACE}+")
_BLANK_LINES = re.compile(r"\n{3,}")
_UNCLEAN = re.compile(r"[\x00-\x1f\x7f\u00a0\u2000-\u200a\u202f\u205f\u3000]|  ")


def plain_clean_text(text: str) -> str:
    if _UNCLEAN.search(text) is None:
        return text.strip()
    text = _SPACES.sub(" ", _CONTROL.sub("", text.replace("\r\n", "\n")))
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()


def plain_html_to_text(markup: str) -> str:
    if "<" not in markup:
        return plain_clean_text(html.unescape(markup))
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    for node in tree.css(_BLOCK_TAGS):
        node.insert_after("\n")
    for node in tree.css("img[alt]"):
        node.insert_after(f" {node.attributes.get('alt') or ''} ")
    root = tree.root
    return plain_clean_text(root.text(separator="") if root is not None else "")


def words(text: str) -> list[str]:
    return text.split()


# Pieces of markup: what feeds carry, and what breaks a reader that does not follow HTML's rules.
# Common inline and block tags, and a few in upper or mixed case.
SIMPLE = [
    *("a", "abbr", "b", "bdi", "cite", "code", "data", "del", "dfn", "em", "i", "ins", "kbd", "mark", "q", "s"),
    *("samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "article", "blockquote", "div"),
    *("figcaption", "figure", "footer", "header", "ol", "p", "section", "ul", "h1", "h2", "h3", "h4", "h5"),
    *("h6", "li", "br", "hr", "img", "H2", "P", "LI", "Img", "BR"),
]
OTHER = words(
    "script style noscript template iframe object svg math pre table tr td dd dt dl nav aside font nobr image button"
    " select textarea title html head body wbr input big label SCRIPT Style"
)
WORDS = ["word", "Fish", "chips", "NATO", "Україна", "новини", "東京", "日本語", "l'été", "naïve", "x", "42", "a_b"]
SPACES = [" ", "  ", "\t", "\n", "\n\n\n", "\r\n", "\r", "\f", "\v", "\xa0", "\u3000", "\u2028", "\x85", "\u2009"]
ENTITIES = [
    *words("&amp; &amp &ampx &amp= &lt; &gt; &quot; &nbsp; &eacute; &eacute &notit; &notin; &am; &foo; &AMP; &Aacute"),
    *words("&#39; &#x27; &#0; &#x80; &#x81; &#13; &#1; &#xFDD0; &#x110000; &#99999999999; &#xD800; &#65 &#x41g &#;"),
    *words("&#x; & &#32; &#x3000; &#xa0; &#00000065; &CounterClockwiseContourIntegral; &#128512; &ltx &gtb &LT"),
    " & ",
]
COMMENTS = ["<!-- c -->", "<!---->", "<!-->", "<!--->", "<!-- a -- b -->", "<!-- x --->", "<!-- x --!>", "<!--<p>-->"]
ODD = ["<", ">", " < ", "<3", "</>", "< p>", "<!doctype html>", "<?x?>", "<![CDATA[x]]>", "\x00", "\x01", "\x7f"]
ODD += ["\ufeff", "\ud800", "\ufffe", "\x1c", '<a href="x"title="y">', "<p/ >", "<b =x>", "<a b/c>", "<my-tag>"]
ATTRIBUTE_NAMES = ["alt", "ALT", "Alt", "href", "src", "class", "title", "data-x"]
VALUES = ['="a b"', '=""', '="x&amp;y"', '="x&ampy"', '="<q>"', '="Фото"', '="a\nb"', "='x'", "='>'", "=x", "=x/"]
VALUES += ["=a&b", "=http://e.com/?a=1&b=2", "=q`", " = x", ""]


def random_attribute(rng: random.Random) -> str:
    return rng.choice([" ", "  ", "\n", "\t", ""]) + rng.choice(ATTRIBUTE_NAMES) + rng.choice(VALUES)


def random_tag(rng: random.Random, name: str, closing: bool = False) -> str:
    if closing:
        return f"</{name}{rng.choice(['', '', '', ' ', ' x=1', '/'])}>"
    attributes = "".join(random_attribute(rng) for _ in range(rng.choice([0, 0, 0, 1, 2])))
    return f"<{name}{attributes}{rng.choice(['', '', '', '/', ' /', ' '])}>"


def random_text(rng: random.Random, odd: bool) -> str:
    pieces = []
    for _ in range(rng.randint(0, 4)):
        draw = rng.random()
        if draw < 0.5:
            pieces.append(rng.choice(WORDS))
        elif draw < 0.75:
            pieces.append(rng.choice(SPACES))
        elif draw < 0.9:
            pieces.append(rng.choice(ENTITIES))
        elif draw < 0.95:
            pieces.append(rng.choice(COMMENTS))
        elif odd:
            pieces.append(rng.choice(ODD))
    return "".join(pieces)


def random_markup(rng: random.Random, odd: bool, depth: int = 0) -> str:
    """Return a fragment of nested elements, some left open, some of kinds a parser repairs or drops."""
    pieces = []
    for _ in range(rng.randint(0, 4)):
        draw = rng.random()
        if draw < 0.35 or depth > 5:
            pieces.append(random_text(rng, odd))
        elif draw < 0.9:
            if rng.random() < 0.9:
                name = rng.choice(["p", "li", "ul", "div", "b", "h2", "a"] if rng.random() < 0.5 else SIMPLE)
            else:
                name = rng.choice(OTHER)
            pieces.append(random_tag(rng, name))
            if name.lower() not in ("br", "hr", "img", "wbr", "input"):
                pieces.append(random_markup(rng, odd, depth + 1))
                if rng.random() < (0.6 if name in ("p", "li") else 0.93):
                    pieces.append(random_tag(rng, name, closing=True))
        else:
            pieces.append(random_tag(rng, rng.choice(SIMPLE + OTHER), closing=rng.random() < 0.5))
    return "".join(pieces)


def random_soup(rng: random.Random, odd: bool) -> str:
    """Return tags and text in any order: stray end tags, blocks in paragraphs, lists without lists."""
    return "".join(
        random_text(rng, odd) if rng.random() < 0.4 else random_tag(rng, rng.choice(SIMPLE + OTHER), rng.random() < 0.4)
        for _ in range(rng.randint(1, 12))
    )


def random_document(rng: random.Random) -> str:
    odd = rng.random() < 0.3
    markup = random_markup(rng, odd) if rng.random() < 0.7 else random_soup(rng, odd)
    return rng.choice(SPACES) + markup if rng.random() < 0.2 else markup


def test_html_to_text_is_the_plain_version_on_a_random_corpus() -> None:
    rng = random.Random(20240601)
    documents = [random_document(rng) for _ in range(6000)]
    for markup in documents:
        assert html_to_text(markup) == plain_html_to_text(markup), markup


@st.composite
def seeded_documents(draw: st.DrawFn) -> str:
    return random_document(random.Random(draw(st.integers(min_value=0, max_value=2**32))))


markup_pieces = st.sampled_from(WORDS + SPACES + ENTITIES + COMMENTS + ODD) | st.text(max_size=5)
fragments = st.recursive(
    markup_pieces,
    lambda inner: st.tuples(st.sampled_from(SIMPLE + OTHER), st.lists(inner, max_size=4), st.booleans()).map(
        lambda parts: f"<{parts[0]}>{''.join(parts[1])}" + (f"</{parts[0]}>" if parts[2] else "")
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(seeded_documents(), st.lists(fragments, max_size=6).map("".join)))
def test_html_to_text_is_the_plain_version(markup: str) -> None:
    assert html_to_text(markup) == plain_html_to_text(markup)


@pytest.mark.parametrize(
    "markup",
    [
        "<p>l&#39;<b>Ukraine</b> r&eacute;clame</p><p>Suite</p>",
        "<p>one<p>two<div>three</div>four",
        "<ul><li>one<li>two<ul><li>a<li>b</ul></ul>after",
        "<ul><li><p>one<li>two</ul>",
        "<ul><li><div><li>x</li></div></li></ul>",
        "<p>a<b>b<p>c</b>d</p>",
        "<h2>a<h3>b</h3></h2><h2><b><h3>c</h3></b></h2>",
        "<a href=x>a<a href=y>b</a></a>",
        "x</p>y</br>z",
        " \n <!-- c --> \n text<!--x-->more",
        "&#32;&#13;x<b>y</b>",
        '<img alt="Photo of the summit" src="x.jpg">caption<IMG ALT=a><img alt><image alt=q>',
        '<p><img src=a.jpg alt="a&amp;b"><img alt=\'x&ampy=1\'><img alt="&lt;3"></p>',
        '<img alt="first" alt="second" ALT=third><img src="x" data-alt="no">',
        '<p>nul\x00in text<img alt="nul\x00in alt"></p>',
        "<p>a<script>alert(1)</script><style>p{}</style>b<noscript><p>c</p></noscript></p><svg><p>d</svg>",
        "<p>tab\there\x00nul\x07bell\r\nline\rline\x0cff\x0bvt</p>",
        "<p>\ufeffbom \ud800 surrogate \U0001f600 smile</p>",
        "<p>東京 &amp; Київ\u3000\u00a0wide\u2028line\x85next</p>",
        "<b>" * 100 + "deep" + "</b>" * 100,
        "<div>" * 80 + "deep" + "</div>" * 80,
        "<p>" + "word " * 2000 + "</p>",
        "<pre>\nkeep</pre><table><tr><td>cell</td></tr></table>",
    ],
)
def test_html_to_text_is_the_plain_version_on_hard_cases(markup: str) -> None:
    assert html_to_text(markup) == plain_html_to_text(markup)


spaces_and_text = st.text(st.sampled_from([*"ab \t\n\r\f\v\x00\x01\x1f\x7f\xa0\u3000\u2009\u2028\x85éя"]), max_size=40)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(spaces_and_text, st.text(max_size=40)))
def test_clean_text_is_the_plain_version(text: str) -> None:
    assert clean_text(text) == plain_clean_text(text)
