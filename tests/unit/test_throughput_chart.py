"""The throughput chart's SVG, as the overview writes it: bars proportional to the counts, every
hour present (an empty one as a zero-height bar), and its numbers readable as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from api.pages.charts import hourly_bars
from api.pages.render import TEMPLATES
from projections.throughput import HourCount

T0 = datetime(2025, 3, 1, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def day(counts: dict[int, tuple[int, int]]) -> list[HourCount]:
    """24 hours from T0; `counts`: hour -> (successes, others), the rest zero."""
    return [HourCount(T0 + timedelta(hours=h), *counts.get(h, (0, 0))) for h in range(24)]


def drawn(hours: list[HourCount]) -> ET.Element:
    """The panel the template writes, parsed (it is well-formed XML)."""
    text = TEMPLATES.env.get_template("_throughput.html").render(throughput=hourly_bars(hours))
    return ET.fromstring(text)


def bars(panel: ET.Element) -> list[ET.Element]:
    svg = panel.find("svg")
    assert svg is not None
    return svg.findall("g")


def heights(bar: ET.Element) -> tuple[float, float]:
    success, other = bar.findall("rect")
    return float(success.get("height", "nan")), float(other.get("height", "nan"))


def test_every_hour_is_drawn_and_an_empty_one_has_zero_height() -> None:
    panel = drawn(day({5: (3, 1)}))
    drawn_bars = bars(panel)
    assert len(drawn_bars) == 24
    assert [b.get("data-hour") for b in drawn_bars] == [
        (T0 + timedelta(hours=h)).isoformat() for h in range(24)
    ]
    assert [heights(b) for i, b in enumerate(drawn_bars) if i != 5] == [(0.0, 0.0)] * 23
    title = drawn_bars[0].find("title")
    assert title is not None
    assert title.text == "00:00 UTC: 0 succeeded, 0 failed or other"


def test_bars_are_proportional_to_their_counts_and_stacked_on_the_baseline() -> None:
    chart = hourly_bars(day({0: (8, 0), 1: (2, 2), 2: (0, 1)}))
    full = chart.baseline - chart.top
    panel = drawn(day({0: (8, 0), 1: (2, 2), 2: (0, 1)}))
    first, second, third = (heights(b) for b in bars(panel)[:3])
    assert first == (full, 0.0)  # the peak reaches the top
    assert second == (full / 4, full / 4)
    assert third == (0.0, full / 8)
    bar = chart.bars[1]
    assert bar.success_y + bar.success_h == chart.baseline
    assert bar.other_y + bar.other_h == bar.success_y  # the others sit on the successes


def test_a_day_without_a_finish_draws_no_peak_and_only_zeros() -> None:
    chart = hourly_bars(day({}))
    assert chart.peak == 0
    assert all(bar.success_h == bar.other_h == 0 for bar in chart.bars)
    panel = drawn(day({}))
    svg = panel.find("svg")
    assert svg is not None
    assert svg.find("line[@class='grid']") is None


def test_the_numbers_are_in_the_svgs_title_and_a_hidden_table() -> None:
    panel = drawn(day({22: (4, 1), 23: (0, 2)}))
    svg = panel.find("svg")
    assert svg is not None
    assert svg.get("role") == "img"
    label = svg.find("title")
    assert label is not None
    assert label.get("id") == svg.get("aria-labelledby")
    assert "4 succeeded, 3 failed or other; at most 5 in one hour" in " ".join(
        (label.text or "").split()
    )
    table = panel.find("table")
    assert table is not None
    assert table.get("class") == "visually-hidden"
    rows = [[cell.text for cell in row] for row in table.iter("tr")][1:]
    assert len(rows) == 24
    assert rows[22] == ["2025-03-01 22:00", "4", "1"]
    assert rows[0] == ["2025-03-01 00:00", "0", "0"]


def test_every_sixth_hour_is_printed_under_its_bar() -> None:
    labels = [bar.label for bar in hourly_bars(day({})).bars]
    assert [label for label in labels if label] == ["00:00", "06:00", "12:00", "18:00"]
