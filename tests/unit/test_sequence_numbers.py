"""Digits from outside are read as a sequence only when `int` would read them the same way."""

from __future__ import annotations

import pytest

from domain.values import is_sequence_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", True),
        ("12345", True),
        ("", False),
        ("-3", False),
        ("²", False),
        ("١٢", False),
        ("1.5", False),
    ],
)
def test_only_ascii_digits_are_a_sequence_number(text: str, expected: bool) -> None:
    assert is_sequence_number(text) is expected
    if expected:
        assert int(text) >= 0
