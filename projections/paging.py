"""Newest-first cursor pagination over rows kept in arrival order."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class ArrivalIndex(Generic[T]):
    """Rows keyed by the stream sequence that created them; the sequence is the cursor."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.rows: list[T] = []

    def add(self, seq: int, row: T) -> None:
        self.seqs.append(seq)
        self.rows.append(row)

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
