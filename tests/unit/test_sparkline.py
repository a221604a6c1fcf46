"""The agents page's sparklines: percentages placed on a small SVG, 100 % at the top."""

from __future__ import annotations

from api.pages.sparkline import HEIGHT, WIDTH, percent_y, sparkline


def test_percentages_map_to_y_with_100_at_the_top_and_out_of_range_clamped() -> None:
    assert [percent_y(v) for v in (0, 50, 100, 150, -5)] == [HEIGHT, HEIGHT / 2, 0, 0, HEIGHT]


def test_points_spread_over_the_width_oldest_first() -> None:
    line = sparkline("CPU", [0, 50, 100], [85])
    assert line.points == f"0.0,{HEIGHT}.0 {WIDTH / 2},{HEIGHT / 2} {WIDTH}.0,0.0"
    assert line.thresholds == (percent_y(85),)
    assert line.label == "CPU over the last 3 readings, now 100%"


def test_a_single_reading_is_a_flat_line_and_none_says_so() -> None:
    single = sparkline("disk", [25], [])
    assert single.points == f"0.0,18.0 {WIDTH}.0,18.0"
    assert single.label == "disk over the last reading, now 25%"
    empty = sparkline("disk", [], [])
    assert (empty.points, empty.label) == ("", "disk over the last 0 readings, now no figures")
