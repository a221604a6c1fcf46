"""What the projection runner needs from a read model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol, runtime_checkable

from domain.model import DomainEvent
from domain.recorded import RecordedEvent


class ReadModel(Protocol):
    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    """The aggregate kinds whose events can change it; the runner sends it no others."""
    skips: ClassVar[frozenset[type[DomainEvent]]]
    """Event classes of those kinds that never change it, which the runner does not send it
    either: most models read few of their kinds' events, and a call each per event cost about
    a micro-second of a replay's twenty. Listed out, not in, so a class added later reaches every
    model of its kind until one says otherwise (tests/unit/test_model_skips.py)."""

    def apply(self, recorded: RecordedEvent) -> None:
        """Fold one event in. Events arrive once each, in stream order."""

    def dump(self) -> Any:
        """A picture of the state, for snapshots: what orjson writes as JSON (datetimes too)."""

    def restore(self, data: Any) -> None:
        """Replace the state with a picture `dump` made."""


def reads(model: ReadModel, recorded: RecordedEvent) -> bool:
    """Whether `model` is sent this event."""
    return recorded.kind in model.kinds and type(recorded.event) not in model.skips


@runtime_checkable
class Incremental(Protocol):
    """A read model whose picture can hold only what changed since an earlier picture: one
    that grows with history (every job ever run) and changes in few rows per interval. A chain of
    such pictures costs storage and drawing time in proportion to the events, not to their square
    (docs/architecture.md, Time travel)."""

    def dump_since(self, seq: int) -> Any:
        """What changed after stream sequence `seq`; `dump_since(0)` is the whole state."""

    def restore_since(self, data: Any) -> None:
        """Lay a `dump_since` picture over the state as it stood at that sequence."""


@runtime_checkable
class Offloaded(Protocol):
    """A read model that keeps part of its state out of memory, in a store of its own that a
    picture holds as a section apart (`infra.pictures`): the finished jobs."""

    def flush_store(self) -> None:
        """Write what is buffered: a picture reads the store from another connection."""

    def stored_section(self, base: int, upto: int) -> Iterator[bytes] | None:
        """JSON lines of what the store took in after `base` up to `upto`, in chunks, read on a
        connection of their own (a thread may read them while the model goes on); None when
        this model has no store."""

    def restore_stored(self, rows: Iterable[Any]) -> None:
        """Lay the loaded lines of a `stored_section` over the state as it stood at its base."""

    def restoring(self) -> AbstractContextManager[None]:
        """Around a whole restore, from a whole picture to the newest: the store is refilled
        in bulk."""

    def keep_resume_point(self, point: bytes) -> None:
        """Keep `point` beside the store, written with it: a clean close (`infra.resume`)."""

    def take_resume_point(self) -> bytes | None:
        """The point kept at the store's last clean close, if any; taken, so kept no longer."""

    def resume(self, data: Any) -> None:
        """The state in memory as `dump` pictured it, over the store as it stands."""
