"""Checks of the audit trail's hash chain."""

from __future__ import annotations

from collections.abc import Sequence

from domain.recorded import GENESIS, RecordedEvent


def chain_links(history: Sequence[RecordedEvent]) -> list[bool]:
    """Per event of one aggregate, whether it names the hash of the event before it (the first:
    the genesis hash), so a break shows where it is."""
    before = [GENESIS, *(recorded.hash for recorded in history)]
    return [recorded.prev == prev for recorded, prev in zip(history, before, strict=False)]
