"""Feed in-memory read models from EVENTS: snapshot first, then the tail, then live.

One ordered push consumer (`infra.follower`: each event handed on from the connection's read
loop before nats-py parses it, with the server's flow control kept) applies each event to every
read model. Snapshots go to the object store (`infra.picture_writer`) keyed by the code version
of the read models, so a code change never loads a picture an older reducer drew, and by the
sequence they cover, so a past state (`infra.time_travel`) starts from the nearest one below it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import sys
import time
from collections.abc import Sequence

from nats.aio.client import Client
from nats.js.api import StreamInfo

from domain.errors import UnavailableError, UndecodableEventError
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from infra import pictures
from infra.code_version import code_version
from infra.codec import decode
from infra.connection import FollowingClient
from infra.follower import Following, Held, follow
from infra.layout import EVENTS
from infra.nats_errors import unavailable_on_failure
from infra.picture_writer import PictureWriter
from infra.pictures import load_chain
from infra.quarantine import Quarantine
from infra.resume import ResumePoint, Stores
from infra.snapshots import Snapshots
from projections.base import Offloaded, ReadModel, reads

log = logging.getLogger(__name__)


class ProjectionRunner:
    def __init__(
        self,
        nc: Client,
        models: Sequence[ReadModel],
        snapshot_every: int,
        writer_key: bytes | None = None,
        *,
        keep_every: int | None = None,
        until: int | None = None,
    ) -> None:
        """Without `writer_key` events are decoded but not authenticated.

        With `keep_every` this runner writes snapshots, keeping one per that many events; only
        one process should (docs/architecture.md). With `until` it stops at that sequence: a
        past state, started from the nearest snapshot at or below it.
        """
        self.nc = nc
        self.writer_key = writer_key
        self.quarantine = Quarantine()
        self.js = nc.jetstream()
        self.models = list(models)
        self.stores = Stores(self.models)
        self.snapshot_every = snapshot_every
        self.position = 0
        self.skipped = 0
        self.faults = 0
        self.snapshot_seq = 0
        self.resumed_at: int | None = None
        """The sequence this runner started from in its stores' own files (`park`), if it did."""
        self.version = code_version()
        self.snapshots = Snapshots(self.js, self.version)
        self.keep_every = keep_every
        self.until = sys.maxsize if until is None else until
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        """A heap of (sequence, ticket, future): the event loop checks only its head."""
        self._ticket = 0
        self._routes: dict[type[DomainEvent], list[ReadModel]] = {}
        self._sub: Following | None = None
        self._uploads: Client | None = None
        self.writer = PictureWriter(self.snapshots, self.models, self.stores, keep_every)

    async def start(self, from_snapshot: bool = True) -> None:
        """From the stores' own files when the last process of this name left a point in them
        (`park`), else from the newest pictures with the stores emptied first."""
        await self._open_uploads()
        if not (from_snapshot and await self._resume()):
            self.stores.empty()
            if from_snapshot:
                await self._load_snapshot()
        self._sub = await follow(self.js, self.position + 1, self._on_event)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        try:
            await self.writer.finished()
        finally:  # cancelled while pictures went up (a caller's deadline): closed all the same
            if self._uploads is not None:
                uploads, self._uploads = self._uploads, None
                self.snapshots.use(self.js)
                await uploads.close()

    async def _open_uploads(self) -> None:
        """While it follows, a writer reads and saves pictures over a connection of its own: on
        the follow's, each round trip of a save waited behind the window of events in flight
        while catching up, and the replay waited for the saves (0.6 to 0.7 s of a 6 s rebuild
        of 200,000 events)."""
        if self.keep_every is None or self._uploads is not None:
            return
        if not isinstance(self.nc, FollowingClient):
            raise TypeError("a snapshot writer needs a FollowingClient's connection")
        name = self.nc.options.get("name") or "jetdeck"
        self._uploads = await self.nc.sibling(f"{name} pictures")
        self.snapshots.use(self._uploads.jetstream())

    def _on_event(self, seq: int, subject: str, data: bytes, pending: int) -> Held:
        """Applied at once; a picture due here is started before the next event is handed on.
        The last one before `until` is drawn in this process: the replay has nothing left to do
        meanwhile, and a child cost a fork and its copied pages on top of the same draw (about
        0.16 s against 0.1 at 200,000 events)."""
        if seq <= self.position or seq > self.until:
            return None
        try:
            recorded = decode(seq, subject, data, self.writer_key)
        except UndecodableEventError as exc:
            self.skipped += 1
            self.quarantine.add(seq, subject, str(exc))
            log.warning("read models quarantine %s", exc)
        else:
            routes = self._routes.get(type(recorded.event))
            for model in self._route(recorded) if routes is None else routes:
                try:
                    model.apply(recorded)
                except Exception:  # a reducer's bug must not stop the other read models
                    self.faults += 1
                    log.exception("read model %s failed on event %d", model.name, seq)
        self.position = seq
        if self._waiters and self._waiters[0][0] <= seq:
            self._wake()
        due = seq - self.snapshot_seq >= self.snapshot_every or seq == self.until
        if due and self._snapshot_due(seq, pending):
            self.snapshot_seq = seq
            if seq == self.until:
                return self.writer.here(seq, self.picture)
            return self.writer.in_background(seq, self._in_memory)
        return None

    def _route(self, recorded: RecordedEvent) -> list[ReadModel]:
        """The read models an event of this class can change (`projections.base.reads`): an
        event class has one kind."""
        routes = self._routes[type(recorded.event)] = [m for m in self.models if reads(m, recorded)]
        return routes

    def _snapshot_due(self, seq: int, pending: int) -> bool:
        """Asked `snapshot_every` events after the last one, and at `until`: due, except while
        catching up when the next one would fall in the same run of `keep_every` events: pruning
        keeps only the newest picture of a run, so this one would be deleted at once, and a
        picture of a large log stalls the replay for a while (docs/architecture.md, Time
        travel). A replay that ends at `until` ends on a picture (a rebuild's last)."""
        if self.keep_every is None:
            return False
        following = seq + self.snapshot_every
        reachable = min(self.until, seq + pending)
        return following > reachable or following // self.keep_every != seq // self.keep_every

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.position:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)

    async def settled(self) -> None:
        """Once a picture the follow was held for has started going up, and every event that
        arrived meanwhile is applied."""
        if self._sub is not None:
            await self._sub.settled()

    async def wait_for(self, seq: int, timeout_s: float) -> None:
        """Read-your-writes: return once every event up to `seq` is in the read models."""
        if seq <= self.position:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ticket += 1
        waiter = (seq, self._ticket, fut)
        heapq.heappush(self._waiters, waiter)
        try:
            await asyncio.wait_for(fut, timeout_s)
        except TimeoutError as exc:
            raise UnavailableError(
                f"read models are at {self.position}, not yet at {seq}; retry shortly"
            ) from exc
        finally:
            # Timed out or cancelled (the client left): unless `_wake` popped it meanwhile, the
            # waiter is still in the heap, and would stay there for good if `seq` never comes.
            if fut.cancelled() and waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)

    async def catch_up(self, timeout_s: float) -> None:
        await self.wait_for((await self._stream()).state.last_seq, timeout_s)

    async def _stream(self) -> StreamInfo:
        with unavailable_on_failure("reading the event stream's state"):
            return await self.js.stream_info(EVENTS)

    async def park(self) -> None:
        """After `stop`: the point reached, kept in the stores' files for the next process of
        this name (`infra.resume`). Only for files that outlive this process."""
        created = (await self._stream()).created
        if created is None:
            return
        drawn = self.writer.drawn
        self.stores.keep(ResumePoint(self.version, created, drawn, self._in_memory(0, 0)))

    async def _resume(self) -> bool:
        """Every store's file was parked at one point, by this code version, on this stream."""
        point = self.stores.take()
        if point is None:
            return False
        stream = await self._stream()
        picture = pictures.Picture.parse(point.picture)
        same_log = point.stream_created == stream.created and picture.seq <= stream.state.last_seq
        if point.version != self.version or not same_log or picture.seq > self.until:
            log.info("read models' files left at %d by other code or log: ignored", picture.seq)
            return False
        with pictures.collector_paused():
            for model in self.models:
                data = picture.sections[model.name].load()
                if isinstance(model, Offloaded):
                    model.resume(data)
                else:
                    model.restore(data)
        self.quarantine.restore(picture.quarantine)
        self.position = self.snapshot_seq = self.resumed_at = picture.seq
        self.writer.drawn = point.drawn
        self.writer.saved_at = time.monotonic()
        log.info("read models resumed from their own files at %d", picture.seq)
        return True

    def picture(self, base: int = 0, depth: int = 0) -> bytes:
        """The models as they stand, stores included; with `base`, incremental ones only as
        changed after it."""
        self.stores.flush()
        stored = pictures.stored_sections(self.models, base, self.position)
        return pictures.with_sections(self._in_memory(base, depth), stored)

    def _in_memory(self, base: int, depth: int) -> bytes:
        """The picture without the stores' sections, which `stored_sections` reads apart."""
        return pictures.draw(self.models, self.quarantine.dump(), self.position, base, depth)

    async def save_snapshot(self) -> None:
        """A picture at the current position, drawn here (nothing may change the models
        meanwhile) and saved before this returns, after any still going up."""
        await self.writer.finished()
        self.snapshot_seq = self.position
        await self.writer.here(self.position, self.picture)

    async def _load_snapshot(self) -> None:
        chain = await load_chain(self.snapshots, self.until)
        if chain is None:
            return
        for model in self.models:
            chain.restore(model)
        newest = chain.newest
        self.quarantine.restore(newest.quarantine)
        self.position = self.snapshot_seq = newest.seq
        self.writer.mark(newest.seq, newest.depth)
