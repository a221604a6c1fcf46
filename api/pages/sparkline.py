"""Small line charts drawn on the server as SVG: a page needs no script to show a trend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 96
HEIGHT = 24


@dataclass(frozen=True)
class Sparkline:
    """One polyline over a 0 to 100 % scale, and the threshold lines drawn under it."""

    points: str
    thresholds: tuple[float, ...]
    label: str


def percent_y(value: float) -> float:
    """A percentage as a y coordinate: SVG's y grows downwards, so 100 % is at the top."""
    return round(HEIGHT - max(0.0, min(value, 100.0)) * HEIGHT / 100, 1)


def sparkline(name: str, values: Sequence[float], thresholds: Sequence[float]) -> Sparkline:
    """`values` oldest first; a single one draws a flat line, so it still reads as a level."""
    shown = list(values) if len(values) > 1 else list(values) * 2
    step = WIDTH / max(len(shown) - 1, 1)
    points = " ".join(f"{round(i * step, 1)},{percent_y(v)}" for i, v in enumerate(shown))
    latest = f"{values[-1]:.0f}%" if values else "no figures"
    readings = "reading" if len(values) == 1 else f"{len(values)} readings"
    label = f"{name} over the last {readings}, now {latest}"
    return Sparkline(points, tuple(percent_y(t) for t in thresholds), label)
