"""Saving pictures of a runner's read models to the snapshot bucket, in chains, in order.

A picture due while the replay runs is drawn by a forked child on another core (infra/forked)
and goes up from a task, so the replay waits only for the child before it, not for uploads,
which the runner sends over a connection of its own while it follows. Pictures go up in
the order they were drawn, and one whose base was not saved is not saved either, so a chain in
the bucket is never broken by this writer (docs/architecture.md, Time travel).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from infra import pictures
from infra.forked import Forked
from infra.pictures import MAX_DEPTH
from infra.resume import Stores
from infra.runtime import give_back_memory
from infra.snapshots import Snapshots
from projections.base import ReadModel

log = logging.getLogger(__name__)

PICTURES_GOING_UP = 4
"""Pictures drawn and not yet saved, at most: an upload may take longer than an interval (on
the follow's own connection it waited behind the replay's messages, up to 330 ms at 200,000
events), and a picture is the change of one interval, a few hundred KB to a few MB."""

Draw = Callable[[int, int], bytes]
"""(base, depth) -> the picture of the models as they stand."""


@dataclass(frozen=True)
class _GoingUp:
    seq: int
    depth: int
    drawing: asyncio.Future[bytes]
    save: asyncio.Task[None]


class PictureWriter:
    def __init__(
        self,
        snapshots: Snapshots,
        models: Sequence[ReadModel],
        stores: Stores,
        keep_every: int | None,
    ) -> None:
        """With `keep_every` None every picture is whole and none is pruned."""
        self.snapshots = snapshots
        self.models = models
        self.stores = stores
        self.keep_every = keep_every
        self.drawn: list[tuple[int, int]] = []
        """(sequence, depth in its chain) of the pictures saved, or started from."""
        self.saved_at: float | None = None
        """When (`time.monotonic`) a picture was last saved or started from."""
        self._going_up: deque[_GoingUp] = deque()
        """The pictures drawn or being drawn and not yet saved, oldest first."""

    @property
    def saved(self) -> int | None:
        """The sequence of the last picture saved or started from, if any."""
        return self.drawn[-1][0] if self.drawn else None

    def mark(self, seq: int, depth: int) -> None:
        """A picture the next ones may chain from: one saved, or the one the models started
        from."""
        self.drawn.append((seq, depth))
        self.saved_at = time.monotonic()

    async def in_background(self, seq: int, draw: Draw) -> None:
        """The picture at `seq`, which the models stand at until this returns, drawn by a child
        forked before it does. One child at a time, and a few pictures at most waiting to go
        up: the replay waits for the previous child, not for the previous upload."""
        if self._going_up:
            await asyncio.wait([self._going_up[-1].drawing])  # a failure is the save's to report
        while len(self._going_up) >= PICTURES_GOING_UP:
            await asyncio.wait([self._going_up[0].save])
        base, depth = await self._next_base(seq)
        self.stores.flush()
        child = Forked(lambda: draw(base, depth))
        stored = asyncio.to_thread(pictures.stored_sections, self.models, base, seq)
        self._start_saving(seq, depth, base, asyncio.ensure_future(_joined(child, stored)))

    async def here(self, seq: int, draw: Draw) -> None:
        """The picture at `seq` drawn in this process (nothing may change the models meanwhile)
        and saved before this returns, after any still going up."""
        await self.finished()
        base, depth = await self._next_base(seq)
        drawn: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        drawn.set_result(draw(base, depth))
        self._start_saving(seq, depth, base, drawn)
        await self.finished()

    async def finished(self) -> None:
        """Once every picture drawn so far is saved, or failed."""
        if self._going_up:
            await asyncio.shield(self._going_up[-1].save)

    async def _next_base(self, seq: int) -> tuple[int, int]:
        """(base, depth) for a picture at `seq`: the newest picture of this writer's, still
        stored or going up, in an earlier run of `keep_every` events, which pruning keeps; (0, 0),
        a whole picture, when there is none (a rebuild discarded them, say) or its chain is long
        enough."""
        if self.keep_every is None:
            return 0, 0
        stored = {n.seq for n in await self.snapshots.mine()}
        self.drawn = sorted(d for d in self.drawn if d[0] in stored)
        going_up = {g.seq: g.depth for g in self._going_up}
        known = [*self.drawn, *going_up.items()]
        earlier = [d for d in known if d[0] // self.keep_every < seq // self.keep_every]
        if not earlier or earlier[-1][1] >= MAX_DEPTH:
            return 0, 0
        drawn, depth = earlier[-1]
        if drawn in going_up:  # saved before this one is, or this one is not saved
            return drawn, depth + 1
        return (drawn, depth + 1) if await self.snapshots.confirmed(drawn) else (0, 0)

    def _start_saving(
        self, seq: int, depth: int, base: int, drawing: asyncio.Future[bytes]
    ) -> None:
        after = self._going_up[-1].save if self._going_up else None
        save = asyncio.create_task(self._save(seq, depth, base, drawing, after))
        self._going_up.append(_GoingUp(seq, depth, drawing, save))

    async def _save(
        self,
        seq: int,
        depth: int,
        base: int,
        picture: Awaitable[bytes],
        after: Awaitable[None] | None,
    ) -> None:
        """Saved after `after`, the save before it: a picture never goes up before its base."""
        # Counted as taken even if it fails, so a failure costs one try per interval, not one per
        # event; and no failure of a snapshot may stop the read models, hence the broad except.
        try:
            if after is not None:
                await asyncio.shield(after)
            drawn = await picture
            if base and base not in {s for s, _ in self.drawn}:
                log.warning("snapshot at %d not saved: its base at %d was not", seq, base)
                return
            await self.snapshots.put(seq, drawn)
            self.mark(seq, depth)
            if self.keep_every is not None:
                await self.snapshots.prune(self.keep_every)
        except Exception:
            log.exception("snapshot at %d failed; the read models keep running", seq)
        finally:
            self._going_up = deque(g for g in self._going_up if g.seq != seq)
            give_back_memory()


async def _joined(child: Forked, stored: Awaitable[list[tuple[str, bool, bytes]]]) -> bytes:
    """The child's picture with the store sections read meanwhile by a thread; both finish
    before a failure of either is raised, so no half is left running under the next picture."""
    picture, sections = await asyncio.gather(child.result(), stored, return_exceptions=True)
    for result in (picture, sections):
        if isinstance(result, BaseException):
            raise result
    assert isinstance(picture, bytes)
    assert isinstance(sections, list)
    return pictures.with_sections(picture, sections)
