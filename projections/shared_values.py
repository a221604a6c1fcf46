"""Equal values a board's rows hold once.

Every job and deployment event decodes its own git context and metadata, and a row kept them:
at 200,000 events the job board was 159 MB for 60,000 jobs, two thirds of it those copies, while
a pipeline's jobs carry one commit. Shared, the board took 62 MB, and a rebuild forked its
picture children from a heap two fifths smaller (each fork copies the page tables of the whole
heap) and freed far fewer objects at the end. Values shared are never changed in place: a git
context is frozen, and no fold writes into a row's metadata.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from domain.values import GitContext

LIMIT = 1024
"""Distinct values kept per kind, at most: the table starts over when full, so it stays bounded
(about 2 MB) in a process that lives through every commit of the history, and the jobs of one
pipeline, created together, still meet their first row's values."""


V = TypeVar("V")


class SharedValues:
    def __init__(self) -> None:
        self._gits: dict[Hashable, GitContext] = {}
        self._metadata: dict[Hashable, dict[str, str]] = {}

    def git(self, git: GitContext) -> GitContext:
        """Keyed by its field values: hashing and comparing the frozen model itself cost twice
        as much."""
        return _shared(self._gits, tuple(git.__dict__.values()), git)

    def git_of(self, fields: dict[str, str]) -> GitContext:
        """A pictured context (its field dict, in field order), built only when no equal one is
        held: rows restored share theirs with the rows folded after them."""
        found = self._gits.get(tuple(fields.values()))
        return self.git(GitContext.model_construct(None, **fields)) if found is None else found

    def metadata(self, metadata: dict[str, str]) -> dict[str, str]:
        return _shared(self._metadata, tuple(metadata.items()), metadata)


def _shared(seen: dict[Hashable, V], key: Hashable, value: V) -> V:
    found = seen.get(key)
    if found is None:
        if len(seen) >= LIMIT:
            seen.clear()
        seen[key] = found = value
    return found
