"""Charts drawn on the server as inline SVG (api/templates/_throughput.html): no script and no
library, so a chart looks the same without JavaScript, on an `as_of` page and in a screenshot.
This module does the geometry; the template only writes it out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projections.throughput import HourCount

WIDTH, HEIGHT = 720, 170
LEFT, TOP, BOTTOM = 40, 10, 24
"""Room for the y axis' figures, above the peak, and for the hours under the bars."""
GAP = 3
LABEL_EVERY = 6
"""Hours between two printed hours under the bars: 24 labels would overlap."""


@dataclass(frozen=True)
class Bar:
    """One hour: the successes stacked under every other outcome, both from the baseline."""

    hour: HourCount
    x: float
    width: float
    success_y: float
    success_h: float
    other_y: float
    other_h: float
    label: str | None

    @property
    def middle(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    top: int
    baseline: int
    peak: int
    """The tallest hour's total, drawn at `top`."""
    bars: list[Bar]

    @property
    def success(self) -> int:
        return sum(bar.hour.success for bar in self.bars)

    @property
    def other(self) -> int:
        return sum(bar.hour.other for bar in self.bars)


def hourly_bars(hours: Sequence[HourCount]) -> BarChart:
    """Bars proportional to the counts, the tallest hour reaching the top; an hour without a
    finish is a bar of height zero, still there with its title and its row in the table."""
    peak = max((h.total for h in hours), default=0)
    baseline = HEIGHT - BOTTOM
    scale = (baseline - TOP) / max(peak, 1)
    slot = (WIDTH - LEFT) / max(len(hours), 1)
    bars = []
    for i, hour in enumerate(hours):
        success_h, other_h = hour.success * scale, hour.other * scale
        bars.append(
            Bar(
                hour=hour,
                x=round(LEFT + i * slot + GAP / 2, 2),
                width=round(slot - GAP, 2),
                success_y=round(baseline - success_h, 2),
                success_h=round(success_h, 2),
                other_y=round(baseline - success_h - other_h, 2),
                other_h=round(other_h, 2),
                label=f"{hour.start:%H}:00" if i % LABEL_EVERY == 0 else None,
            )
        )
    return BarChart(WIDTH, HEIGHT, LEFT, TOP, baseline, peak, bars)
