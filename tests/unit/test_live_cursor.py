"""Where a live page's client stands: `S` or `S.L`, ASCII digits only, at most 18 of them (a
stream sequence fits in 64 bits), anything else a 422 naming where it came from."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError

from api.live.cursor import Cursor, parse, resume_point

AFTER = ("query", "after")


@pytest.mark.parametrize(
    ("text", "cursor"),
    [("0", Cursor(0)), ("12", Cursor(12)), ("12.3", Cursor(12, 3)), ("9" * 18, Cursor(10**18 - 1))],
)
def test_a_sequence_or_a_sequence_and_a_log_position_parse(text: str, cursor: Cursor) -> None:
    assert parse(text, AFTER) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.",
        ".1",
        "1.2.3",
        "12.x",
        "9" * 19,
        "1." + "9" * 19,
        "\u0661\u0662",  # Arabic-Indic digits: int() takes them, a sequence is ASCII
        "\uff11",  # a fullwidth 1
        "1\n",
    ],
)
def test_anything_else_is_a_422_naming_where_it_came_from(text: str) -> None:
    with pytest.raises(RequestValidationError) as raised:
        parse(text, AFTER)
    assert raised.value.errors()[0]["loc"] == AFTER


def test_last_event_id_wins_over_after_and_neither_means_nothing_shown_yet() -> None:
    assert resume_point("5", "7.2") == Cursor(7, 2)
    assert resume_point("5", None) == Cursor(5)
    assert resume_point(None, None) == Cursor(0)
    assert resume_point("", "") == Cursor(0)
    with pytest.raises(RequestValidationError) as raised:
        resume_point("5", "x")
    assert raised.value.errors()[0]["loc"] == ("header", "Last-Event-ID")


def test_the_text_carries_the_log_position_only_on_a_job_page() -> None:
    assert Cursor(7, 2).text(with_log=True) == "7.2"
    assert Cursor(7, 2).text(with_log=False) == "7"
