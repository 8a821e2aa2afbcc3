"""Small charts drawn on the server as inline SVG: one bar a day, each with its date and count as a tooltip.

Pure: counts in, markup out. Every label is escaped; the markup has no style attribute and no script, so the
pages' Content-Security-Policy lets it through; colours come from the stylesheet (``.chart`` and its classes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

WIDTH = 168  # 14 bars of 12 units
HEIGHT = 36
GAP = 2


def daily_bars(counts: Mapping[date, int], days: Sequence[date], label: str) -> Markup:
    """Return a bar chart of ``counts`` over ``days`` (oldest first), titled ``label``, as inline SVG."""
    values = [counts.get(day, 0) for day in days]
    total, highest = sum(values), max(values, default=0)
    step = WIDTH / max(len(values), 1)
    described = f"{label}: {total} in {len(values)} days"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 1}" width="{WIDTH}" height="{HEIGHT + 1}" '
        f'role="img" aria-label="{escape(described)}">',
        f"<title>{escape(described)}</title>",
    ]
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = max(1, round(HEIGHT * value / highest)) if value else 1  # an empty day is a thin line
        x = round(index * step + GAP / 2, 2)
        width = round(step - GAP, 2)
        parts.append(
            f'<rect class="{"bar" if value else "bar empty"}" x="{x}" y="{HEIGHT - height}" width="{width}" '
            f'height="{height}"><title>{day.isoformat()}: {value}</title></rect>'
        )
    parts.append(f'<line class="axis" x1="0" y1="{HEIGHT + 0.5}" x2="{WIDTH}" y2="{HEIGHT + 0.5}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
