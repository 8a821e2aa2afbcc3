"""The daily bar charts: one bar a day, heights in proportion, labels escaped, nothing the CSP would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from monitor.store.browse import days
from monitor.web.charts import HEIGHT, daily_bars

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[tuple[float, str]]:
    root = ET.fromstring(str(svg).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    return [(float(rect.get("height", "0")), rect.findtext(f"{SVG}title", "")) for rect in root.iter(f"{SVG}rect")]


@pytest.mark.parametrize(
    ("counts", "heights"),
    [
        ({}, [1.0, 1.0, 1.0, 1.0]),
        ({date(2026, 1, 4): 10}, [1.0, 1.0, 1.0, HEIGHT]),
        ({date(2026, 1, 1): 2, date(2026, 1, 2): 4, date(2026, 1, 3): 1}, [HEIGHT / 2, HEIGHT, HEIGHT / 4, 1.0]),
        ({date(2026, 1, 1): 1, date(2026, 1, 2): 1000}, [1.0, HEIGHT, 1.0, 1.0]),  # a day with one stays visible
        ({date(2025, 12, 1): 50}, [1.0, 1.0, 1.0, 1.0]),  # outside the days shown
    ],
)
def test_heights_follow_the_counts(counts: dict[date, int], heights: list[float]) -> None:
    shown = bars(daily_bars(counts, days(date(2026, 1, 4), 4), "articles"))
    assert [height for height, _ in shown] == heights
    assert [title.split(":")[0] for _, title in shown] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]


def test_labels_are_escaped_and_the_markup_has_no_style_or_script() -> None:
    svg = str(daily_bars({date(2026, 1, 1): 3}, days(date(2026, 1, 1), 14), 'feed <script>alert("x")</script>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg and "on" + "load" not in svg
    assert len(bars(svg)) == 14
    assert 'aria-label="feed &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;: 3 in 14 days"' in svg
