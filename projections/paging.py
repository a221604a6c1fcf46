"""Newest-first cursor pagination over rows kept in arrival order."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Generic, TypeVar

from projections.finished_jobs import micros

T = TypeVar("T")


class ArrivalIndex(Generic[T]):
    """Rows keyed by the stream sequence that created them; the sequence is the cursor."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.rows: list[T] = []

    def add(self, seq: int, row: T) -> None:
        self.seqs.append(seq)
        self.rows.append(row)

    def since(self, seq: int) -> list[tuple[int, T]]:
        """The rows that arrived after `seq`, oldest first."""
        start = bisect_right(self.seqs, seq)
        return list(zip(self.seqs[start:], self.rows[start:], strict=True))

    def merge(self, arrived: list[tuple[int, T]]) -> None:
        """Add rows that arrived at any point, not only after the newest: only the index from
        the earliest of them on is sorted again."""
        if arrived:
            start = bisect_right(self.seqs, min(seq for seq, _ in arrived))
            after = zip(self.seqs[start:], self.rows[start:], strict=True)
            pairs = sorted([*after, *arrived], key=itemgetter(0))
            self.seqs[start:] = [seq for seq, _ in pairs]
            self.rows[start:] = [row for _, row in pairs]

    def keep_only(self, keep: Callable[[T], bool]) -> None:
        kept = [(seq, row) for seq, row in zip(self.seqs, self.rows, strict=True) if keep(row)]
        self.seqs = [seq for seq, _ in kept]
        self.rows = [row for _, row in kept]

    def newest_first(self, before: int | None) -> Iterator[tuple[int, T]]:
        end = len(self.seqs) if before is None else bisect_left(self.seqs, before)
        for i in range(end - 1, -1, -1):
            yield self.seqs[i], self.rows[i]

    def page(
        self, keep: Callable[[T], bool], limit: int, before: int | None
    ) -> tuple[list[T], int | None]:
        """Up to `limit` rows older than cursor `before`, and the cursor of the next page."""
        out: list[T] = []
        last_seq = 0
        for seq, row in self.newest_first(before):
            if not keep(row):
                continue
            if len(out) == limit:
                return out, last_seq
            out.append(row)
            last_seq = seq
        return out, None


def window(rows: Sequence[T], limit: int, cursor: int | None) -> tuple[list[T], int | None]:
    """For lists kept in a stable order rather than by arrival: up to `limit` rows from position
    `cursor`, and the position of the next page (None on the last)."""
    start = cursor or 0
    end = start + limit
    return list(rows[start:end]), end if end < len(rows) else None


class CreatedIndex:
    """Row keys by creation time, for a creation range; a key whose row left is dropped at the
    next `keep_only`, and one added twice (a row restored from two pictures) counts once."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, str]] = []
        """(creation time in epoch microseconds, row key), sorted."""

    def add(self, created: datetime, key: str) -> None:
        insort(self.keys, (micros(created), key))

    def keep_only(self, keep: Callable[[str], bool]) -> None:
        self.keys = sorted({entry for entry in self.keys if keep(entry[1])})

    def since(self, low: datetime) -> int:
        """How many keys were created at or after `low` (a row that left counts until the next
        `keep_only`)."""
        return len(self.keys) - bisect_left(self.keys, (micros(low),))

    def between(self, low: datetime | None, high: datetime | None) -> list[str]:
        """The keys created in [low, high), either end open when None."""
        start = 0 if low is None else bisect_left(self.keys, (micros(low),))
        end = len(self.keys) if high is None else bisect_left(self.keys, (micros(high),))
        return list(dict.fromkeys(key for _, key in self.keys[start:end]))
