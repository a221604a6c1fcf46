"""Messages on the event subjects that are not authentic JetDeck events.

The read models record each one here instead of applying it; the list is derived from the log
(every replay finds the same ones) and travels in the read models' snapshot.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

KEPT = 1000
"""Entries kept for `GET /api/audit/quarantine`; the count and the last sequence cover all."""


class Quarantined(NamedTuple):
    seq: int
    subject: str
    reason: str


class Quarantine:
    def __init__(self) -> None:
        self.count = 0
        self.last_seq = 0
        self.entries: deque[Quarantined] = deque(maxlen=KEPT)

    def add(self, seq: int, subject: str, reason: str) -> None:
        self.count += 1
        self.last_seq = seq
        self.entries.append(Quarantined(seq, subject, reason))

    def dump(self) -> dict[str, Any]:
        entries = [list(e) for e in self.entries]  # orjson writes no named tuples
        return {"count": self.count, "last_seq": self.last_seq, "entries": entries}

    def restore(self, data: dict[str, Any]) -> None:
        self.count = data["count"]
        self.last_seq = data["last_seq"]
        self.entries = deque((Quarantined(*e) for e in data["entries"]), maxlen=KEPT)
