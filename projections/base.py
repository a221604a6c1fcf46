"""What the projection runner needs from a read model."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from domain.recorded import RecordedEvent


class ReadModel(Protocol):
    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    """The aggregate kinds whose events can change it; the runner sends it no others."""

    def apply(self, recorded: RecordedEvent) -> None:
        """Fold one event in. Events arrive once each, in stream order."""

    def dump(self) -> Any:
        """A JSON-ready picture of the state, for snapshots."""

    def restore(self, data: Any) -> None:
        """Replace the state with a picture `dump` made."""
