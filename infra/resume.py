"""Where a process of the API's kind stopped, kept in its read models' own store file so the
next process of its name starts from that file rather than from the pictures (a million jobs'
chain is about a gigabyte to fetch, decompress and lay back into the store; docs/architecture.md,
Read models).

A point is the picture of the models in memory (`infra.pictures.draw`, whole), with what a start
checks before it trusts the file: the code version that drew it, and the EVENTS stream it came
from (its creation time: a stream deleted and made again, or another server, is another log);
and the pictures the process had drawn, so its next one is still a change over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from projections.base import Offloaded, ReadModel

_HEADER_END = b"\n"


@dataclass(frozen=True)
class ResumePoint:
    version: str
    stream_created: datetime
    drawn: list[tuple[int, int]]
    """(sequence, depth in its chain) of the pictures the process had drawn or started from."""
    picture: bytes

    def encode(self) -> bytes:
        header = {
            "version": self.version,
            "stream_created": self.stream_created.isoformat(),
            "drawn": self.drawn,
        }
        return orjson.dumps(header) + _HEADER_END + self.picture

    @classmethod
    def parse(cls, kept: bytes) -> ResumePoint:
        end = kept.index(_HEADER_END)
        header = orjson.loads(kept[:end])
        return cls(
            header["version"],
            datetime.fromisoformat(header["stream_created"]),
            [(seq, depth) for seq, depth in header["drawn"]],
            kept[end + 1 :],
        )


class Stores:
    """The read models that keep a store of their own, handled together."""

    def __init__(self, models: Sequence[ReadModel]) -> None:
        self.models = [model for model in models if isinstance(model, Offloaded)]

    def flush(self) -> None:
        """A picture's store sections are read on other connections: what they cover must be
        written first."""
        for model in self.models:
            model.flush_store()

    def empty(self) -> None:
        """Rows a file holds from an earlier process are not trusted without its point."""
        for model in self.models:
            with model.restoring():
                pass

    def keep(self, point: ResumePoint) -> None:
        encoded = point.encode()
        for model in self.models:
            model.keep_resume_point(encoded)

    def take(self) -> ResumePoint | None:
        """The point every store was parked at, if they all were, at one point."""
        points = {model.take_resume_point() for model in self.models}
        kept = points.pop() if len(points) == 1 else None
        try:
            return None if kept is None else ResumePoint.parse(kept)
        except (ValueError, KeyError, TypeError):  # another version's form: not this code's
            return None
