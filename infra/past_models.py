"""The read models of a past point, each restored only when a request first reads it.

A past state is a chain of pictures plus the events after it (infra/time_travel). Restoring every
model would parse the whole picture, most of it the job board, for a summary that reads two small
models; so the tail is decoded once and kept, and each model is restored and brought up to the
point on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any, ClassVar

from domain.catalog import EVENT_TYPES
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from infra.pictures import Chain, collector_paused
from infra.read_models import ReadModels
from projections.base import ReadModel, reads
from projections.jobs import JobBoard

log = logging.getLogger(__name__)

_FACTORIES: dict[str, Callable[[], ReadModel]] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in fields(ReadModels)
}
_FACTORIES["jobs"] = partial(JobBoard, unpack_on_read=True)


class Tail:
    """Collects the events a projection runner feeds it, decoded, in stream order."""

    name: ClassVar[str] = "tail"
    kinds: ClassVar[frozenset[str]] = frozenset(name.split(".")[0] for name in EVENT_TYPES)
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def apply(self, recorded: RecordedEvent) -> None:
        self.events.append(recorded)

    def dump(self) -> Any:
        raise TypeError("a tail is kept in memory, never pictured")

    def restore(self, data: Any) -> None:  # noqa: ARG002 (the protocol's signature)
        raise TypeError("a tail is kept in memory, never pictured")


class PastModels(ReadModels):
    """`ReadModels` whose fields appear on first access (`__getattr__` runs only then)."""

    def __init__(self, chain: Chain | None, tail: list[RecordedEvent]) -> None:
        # No super().__init__(): it would build every model now.
        self._chain = chain
        self._tail = tail

    def __getattr__(self, name: str) -> ReadModel:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise AttributeError(name)
        model = factory()
        try:
            if self._chain is not None:
                self._chain.restore(model)
        except AttributeError as exc:  # would read as "no such model" to getattr and hasattr
            raise RuntimeError(f"restoring {name}: {exc}") from exc
        with collector_paused():
            for recorded in self._tail:
                if reads(model, recorded):
                    _apply(model, recorded)
        setattr(self, name, model)
        return model

    def __repr__(self) -> str:
        """Without the models: the dataclass's would restore every one of them."""
        return f"PastModels(restored={sorted(set(vars(self)) & set(_FACTORIES))})"


def _apply(model: ReadModel, recorded: RecordedEvent) -> None:
    try:
        model.apply(recorded)
    except Exception:  # as in the projection runner: one reducer's bug spoils only its model
        log.exception("read model %s failed on event %d", model.name, recorded.seq)
