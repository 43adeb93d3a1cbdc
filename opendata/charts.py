"""Bar charts as small, accessible, server-rendered SVG (no JavaScript), each shown with a table
of the same numbers.

Hand-written rather than ``pygal`` (3.1.3 was tried with ``js=[]``): pygal puts its styling in an
inline ``<style>`` element and ``style=`` attributes, which our Content-Security-Policy
(``style-src 'self'``, no ``'unsafe-inline'``) blocks, so its charts render unstyled; it gives
every chart a random id and a generation-date comment, so the same figures never give the same
bytes (no stable ETag, no byte-identical pages); and a two-bar chart is ~15 kB with no
``<desc>``. A horizontal bar chart is a few rectangles and labels with presentation attributes
(``fill=`` is not a style, CSP allows it): simpler here than a dependency. The SVG is built in
the template (``templates/opendata/_chart.html``, autoescaped); this module computes the
geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 24
GAP = 8
LABEL_WIDTH = 190
BAR_AREA = 200
VALUE_WIDTH = 90


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float
    text: str  # the value as people read it ("£1,234.00", "42%")
    width: int
    y: int


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    desc: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * (BAR_HEIGHT + GAP) + GAP

    @property
    def width(self) -> int:
        return LABEL_WIDTH + BAR_AREA + VALUE_WIDTH

    label_width = LABEL_WIDTH
    bar_height = BAR_HEIGHT


def bar_chart(chart_id: str, title: str, desc: str, items: list[tuple[str, int | float, str]]) -> Chart:
    """``items``: (label, value, value as text). Bars scale to the largest value (a zero value
    gets no bar; its text still shows)."""
    top = max((v for _, v, _ in items), default=0)
    bars = [Bar(label=label, value=value, text=text,
                width=round(BAR_AREA * value / top) if top and value > 0 else 0,
                y=GAP + n * (BAR_HEIGHT + GAP))
            for n, (label, value, text) in enumerate(items)]
    return Chart(id=chart_id, title=title, desc=desc, bars=bars)
