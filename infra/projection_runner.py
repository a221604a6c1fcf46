"""Feed in-memory read models from EVENTS: snapshot first, then the tail, then live.

One ordered push consumer with a callback (5x faster than fetch/next_msg in nats-py) applies each
event to every read model. Snapshots go to the object store keyed by the code version of the read
models, so a code change never loads a picture an older reducer drew, and by the sequence they
cover, so a past state (`infra.time_travel`) starts from the nearest one below it.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import sys
import time
from collections.abc import Awaitable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

import domain
import projections
from domain.errors import UnavailableError, UndecodableEventError
from domain.values import is_sequence_number
from infra import pictures, snapshots
from infra.codec import decode
from infra.event_store import follow
from infra.forked import Forked
from infra.layout import EVENTS
from infra.nats_errors import unavailable_on_failure
from infra.pictures import MAX_DEPTH, load_chain
from infra.quarantine import Quarantine
from infra.runtime import give_back_memory
from infra.snapshots import Snapshots
from projections.base import Offloaded, ReadModel

log = logging.getLogger(__name__)


@cache
def code_version() -> str:
    """Changes whenever any source file of the domain or of the read models changes, or the
    modules that store their pictures (they own the pictures' format). Read once per process:
    every past state builds a runner, and the code does not change under a running process."""
    digest = hashlib.sha256()
    packages = (domain, projections)
    sources = [path for p in packages for path in sorted(Path(p.__path__[0]).glob("*.py"))]
    for path in [*sources, Path(pictures.__file__), Path(snapshots.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def stream_seq(msg: Msg) -> int:
    """`msg.metadata.sequence.stream`, read straight from the ack subject: building nats-py's
    Metadata (timestamp, five ints, two dataclasses) costs about 5 µs a message on replay."""
    reply = msg.reply
    if reply.startswith("$JS.ACK."):
        dots = reply.count(".")
        if dots == 8:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
            return int(reply.split(".", 6)[5])
        if dots >= 10:  # with <domain>.<account hash> after $JS.ACK
            return int(reply.split(".", 8)[7])
    return msg.metadata.sequence.stream


def delivered(msg: Msg) -> int:
    """How many times the consumer has delivered this message, from the ack subject
    (`<delivered>` above, 2 tokens later with a domain); 0 when it does not say."""
    tokens = msg.reply.split(".") if msg.reply else []
    if tokens[:2] == ["$JS", "ACK"] and len(tokens) in (9, 11, 12):
        count = tokens[4] if len(tokens) == 9 else tokens[6]
        return int(count) if count.isdigit() else 0
    return 0


def pending(msg: Msg) -> int:
    """How many messages the stream held after this one when it was delivered (0 when the ack
    subject does not say): the distance to the end of a catch-up."""
    last = msg.reply.rsplit(".", 1)[-1]
    return int(last) if msg.reply.startswith("$JS.ACK.") and is_sequence_number(last) else 0


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
        self.snapshot_every = snapshot_every
        self.position = 0
        self.skipped = 0
        self.faults = 0
        self.snapshot_seq = 0
        self.snapshot_at: float | None = None
        """When (`time.monotonic`) a snapshot was last saved or loaded."""
        self.version = code_version()
        self.snapshots = Snapshots(self.js, self.version)
        self.keep_every = keep_every
        self.until = sys.maxsize if until is None else until
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        """A heap of (sequence, ticket, future): the event loop checks only its head."""
        self._ticket = 0
        self._routes: dict[str, list[ReadModel]] = {}
        self._sub: Any = None
        self._snapshotting: asyncio.Task[None] | None = None
        self._drawn: list[tuple[int, int]] = []
        """(sequence, depth in its chain) of the pictures this runner saved or started from."""

    async def start(self, from_snapshot: bool = True) -> None:
        if from_snapshot:
            await self._load_snapshot()
        self._sub = await follow(self.js, self.position + 1, self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if self._snapshotting is not None:
            await self._snapshotting

    async def _on_message(self, msg: Msg) -> None:
        seq = stream_seq(msg)
        if seq <= self.position or seq > self.until:
            return
        try:
            recorded = decode(seq, msg.subject, msg.data, self.writer_key)
        except UndecodableEventError as exc:
            self.skipped += 1
            self.quarantine.add(seq, msg.subject, str(exc))
            log.warning("read models quarantine %s", exc)
        else:
            routes = self._routes.get(recorded.kind)
            for model in self._route(recorded.kind) if routes is None else routes:
                try:
                    model.apply(recorded)
                except Exception:  # a reducer's bug must not stop the other read models
                    self.faults += 1
                    log.exception("read model %s failed on event %d", model.name, seq)
        self.position = seq
        if self._waiters and self._waiters[0][0] <= seq:
            self._wake()
        if seq - self.snapshot_seq >= self.snapshot_every and self._snapshot_due(seq, msg):
            await self._snapshot_in_background()

    def _route(self, kind: str) -> list[ReadModel]:
        """The read models an event of `kind` can change: most see few kinds, and skipping the
        others saves a call each per event on replay."""
        self._routes[kind] = [m for m in self.models if kind in m.kinds]
        return self._routes[kind]

    def _snapshot_due(self, seq: int, msg: Msg) -> bool:
        """Asked `snapshot_every` events after the last one: due, except while catching up when
        the next one would fall in the same run of `keep_every` events: pruning keeps only the
        newest picture of a run, so this one would be deleted at once, and a picture of a large
        log stalls the replay for a while (docs/architecture.md, Time travel)."""
        if self.keep_every is None:
            return False
        following = seq + self.snapshot_every
        reachable = min(self.until, seq + pending(msg))
        return following > reachable or following // self.keep_every != seq // self.keep_every

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.position:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)

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
        with unavailable_on_failure("reading the event stream's last sequence"):
            info = await self.js.stream_info(EVENTS)
        await self.wait_for(info.state.last_seq, timeout_s)

    def picture(self, base: int = 0, depth: int = 0) -> bytes:
        """The models as they stand, stores included; with `base`, incremental ones only as
        changed after it."""
        self._flush_stores()
        stored = pictures.stored_sections(self.models, base, self.position)
        return pictures.with_sections(self._in_memory(base, depth), stored)

    def _in_memory(self, base: int, depth: int) -> bytes:
        """The picture without the stores' sections, which `stored_sections` reads apart."""
        return pictures.draw(self.models, self.quarantine.dump(), self.position, base, depth)

    async def _next_base(self, seq: int) -> tuple[int, int]:
        """(base, depth) for a picture at `seq`: the newest picture of this runner's, still
        stored, in an earlier run of `keep_every` events, which pruning keeps; (0, 0), a whole
        picture, when there is none (a rebuild discarded them, say) or its chain is long enough."""
        if self.keep_every is None:
            return 0, 0
        stored = {n.seq for n in await self.snapshots.names() if n.version == self.version}
        self._drawn = sorted(d for d in self._drawn if d[0] in stored)
        for drawn, depth in reversed(self._drawn):
            if drawn // self.keep_every < seq // self.keep_every:
                return (drawn, depth + 1) if depth < MAX_DEPTH else (0, 0)
        return 0, 0

    async def _snapshot_in_background(self) -> None:
        """The picture of the models as they are at this event (the next one changes them),
        drawn by a forked child on another core while this process replays on (infra/forked);
        the upload in a task. Waiting first for the previous one keeps one child at a time; it
        only delays a replay whose snapshots fall behind it."""
        if self._snapshotting is not None:
            # Shielded: unsubscribing cancels this callback, which must not cancel the upload.
            await asyncio.shield(self._snapshotting)
        seq = self.snapshot_seq = self.position
        base, depth = await self._next_base(seq)
        self._flush_stores()
        child = Forked(lambda: self._in_memory(base, depth))
        stored = asyncio.to_thread(pictures.stored_sections, self.models, base, seq)
        self._snapshotting = asyncio.create_task(self._save(seq, depth, _joined(child, stored)))

    async def _save(self, seq: int, depth: int, picture: Awaitable[bytes]) -> None:
        # Counted as taken even if it fails, so a failure costs one try per interval, not one per
        # event; and no failure of a snapshot may stop the read models, hence the broad except.
        try:
            await self.snapshots.put(seq, await picture)
            self._drawn.append((seq, depth))
            self.snapshot_at = time.monotonic()
            if self.keep_every is not None:
                await self.snapshots.prune(self.keep_every)
        except Exception:
            log.exception("snapshot at %d failed; the read models keep running", seq)
        finally:
            self._snapshotting = None
            give_back_memory()

    async def save_snapshot(self) -> None:
        """A picture at the current position, drawn here (nothing may change the models
        meanwhile) and saved before this returns, after any still going up."""
        if self._snapshotting is not None:
            await asyncio.shield(self._snapshotting)
        seq = self.snapshot_seq = self.position
        base, depth = await self._next_base(seq)
        drawn: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        drawn.set_result(self.picture(base, depth))
        await self._save(seq, depth, drawn)

    def _flush_stores(self) -> None:
        """A picture's store sections are read on other connections: what they cover must be
        written first."""
        for model in self.models:
            if isinstance(model, Offloaded):
                model.flush_store()

    async def _load_snapshot(self) -> None:
        chain = await load_chain(self.snapshots, self.until)
        if chain is None:
            return
        for model in self.models:
            chain.restore(model)
        newest = chain.newest
        self.quarantine.restore(newest.quarantine)
        self.position = self.snapshot_seq = newest.seq
        self._drawn.append((newest.seq, newest.depth))
        self.snapshot_at = time.monotonic()


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
