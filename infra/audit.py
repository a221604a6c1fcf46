"""Checks of the audit trail's hash chain."""

from __future__ import annotations

from collections.abc import Sequence

from domain.recorded import GENESIS, RecordedEvent


def verify_chain(history: Sequence[RecordedEvent]) -> bool:
    """True when each event of one aggregate names the hash of the event before it."""
    expected = GENESIS
    for recorded in history:
        if recorded.prev != expected:
            return False
        expected = recorded.hash
    return True
