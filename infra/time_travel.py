"""The read models as they stood at a past point of the log, and a rebuild from the first event.

"As of T" is transaction time: the events EVENTS had committed before T by the stream's clock.
T is resolved to a sequence once (research/replay.md §4.1: a leader change can make stream
timestamps go backwards), and everything after works in sequences. A past state is the chain of
pictures at or below the sequence plus the tail up to it (infra/past_models); it is never written
back.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime

import orjson
from nats.aio.client import Client

from domain.errors import UnavailableError
from infra.layout import EVENTS
from infra.nats_errors import unavailable_on_failure
from infra.past_models import PastModels, Tail
from infra.pictures import collector_paused, load_chain
from infra.projection_runner import ProjectionRunner
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.tokens import event_writer_key

Progress = Callable[[int], None]

DIRECT_GET = f"$JS.API.DIRECT.GET.{EVENTS}"
NEVER = 2**62
"""`snapshot_every` for runners that take no snapshots of their own."""
REPORT_EVERY = 1000
"""Events between two calls of a progress callback."""
STEP_TIMEOUT_S = 60.0
"""The most `REPORT_EVERY` events may take before the replay counts as stuck."""


async def last_seq(nc: Client) -> int:
    with unavailable_on_failure("reading the event stream's last sequence"):
        info = await nc.jetstream().stream_info(EVENTS)
    return info.state.last_seq


async def seq_at(nc: Client, when: datetime) -> int:
    """The last sequence committed before `when` (0: none). `when` must carry its zone."""
    if when.tzinfo is None:
        raise ValueError(f"{when.isoformat()} has no time zone")
    # Read first: a 404 below then means every event up to `last` came before `when`.
    last = await last_seq(nc)
    # nats-py's get_msg has no start_time: ask the server's GetSeqFromTime directly.
    request = orjson.dumps({"start_time": when.astimezone(UTC).isoformat()})
    with unavailable_on_failure("looking up a sequence by time"):
        reply = await nc.request(DIRECT_GET, request, timeout=5)
    headers = reply.headers or {}
    status = headers.get("Status")
    if status is None:
        return int(headers["Nats-Sequence"]) - 1  # the first event at or after `when`
    if status == "404":
        return last
    raise UnavailableError(f"direct get by time answered {status} {headers.get('Description')}")


async def committed_at(nc: Client, seq: int) -> datetime:
    """When the stream committed event `seq`, by the clock `seq_at` reads: the instant a past
    state at `seq` stands for."""
    with unavailable_on_failure("reading an event's commit time"):
        message = await nc.jetstream().get_msg(EVENTS, seq, direct=True)
    if message.time is None:
        raise UnavailableError(f"event {seq} came back without its commit time")
    return message.time


async def read_models_at(
    nc: Client,
    seq: int,
    progress: Progress | None = None,
    *,
    writer_key: bytes | None = None,
) -> ReadModels:
    """The read models of the log cut at `seq`, inclusive: the nearest chain of pictures of this
    code version at or below it, then the events after it, each model restored when first read
    (infra/past_models). `writer_key`: the one the events are sealed with (default: the
    configured one, else the one kept in NATS)."""
    last = await last_seq(nc)
    if not 0 <= seq <= last:
        raise ValueError(f"sequence {seq} is outside the log, which ends at {last}")
    key = writer_key or await _writer_key(nc)
    tail = Tail()
    runner = ProjectionRunner(nc, [tail], NEVER, key, until=seq)
    chain = await load_chain(runner.snapshots, seq)
    runner.position = 0 if chain is None else chain.newest.seq
    # The tail makes only objects that live on in the past state: collections would rescan the
    # process's whole heap for none of them (a third of a tail's cost in the API process). Only
    # from a picture, so the pause lasts at most `snapshot_keep_every` events, never a whole log.
    with collector_paused() if chain is not None else nullcontext():
        try:
            await runner.start(from_snapshot=False)
            await _follow(runner, seq, progress)
        finally:
            await runner.stop()
    return PastModels(chain, tail.events)


async def rebuild(
    nc: Client,
    progress: Progress | None = None,
    *,
    writer_key: bytes | None = None,
    settings: Settings | None = None,
) -> int:
    """Discard every snapshot, replay the whole log, ending on a fresh snapshot; returns the
    sequence it covers. Running processes keep their read models; the next to start loads this one.

    Pictures are saved along the way as the API saves them (`snapshot_every`, pruned to one per
    `snapshot_keep_every`), so a past state afterwards starts near its point, not at event 1.
    Without the cyclic collector: the replay owns its process (`jetdeck rebuild`), makes only
    long-lived objects, and the collections cost a fifth of its time."""
    key = writer_key or await _writer_key(nc)
    settings = settings or Settings()
    target = await last_seq(nc)
    runner = ProjectionRunner(
        nc,
        ReadModels().all(),
        settings.snapshot_every,
        key,
        keep_every=settings.snapshot_keep_every,
        until=target,
    )
    await runner.snapshots.discard()
    with collector_paused():
        try:
            await runner.start(from_snapshot=False)
            await _follow(runner, target, progress)
            await runner.settled()  # the last event's picture is drawn and saved
        finally:
            await runner.stop()
    if runner.writer.saved != runner.position:  # an empty log, or the last picture failed
        await runner.save_snapshot()
    return runner.position


async def _writer_key(nc: Client) -> bytes:
    return await event_writer_key(nc.jetstream(), Settings().writer_key)


async def _follow(runner: ProjectionRunner, seq: int, progress: Progress | None) -> None:
    """Wait until the runner reached `seq`, telling `progress` every `REPORT_EVERY` events."""
    while runner.position < seq:
        await runner.wait_for(min(runner.position + REPORT_EVERY, seq), STEP_TIMEOUT_S)
        if progress is not None:
            progress(runner.position)


class PastViews:
    """The last few past states this process built, least recently used dropped first. A state
    asked for while it is being built is built once."""

    def __init__(self, nc: Client, writer_key: bytes, size: int) -> None:
        self.nc = nc
        self.writer_key = writer_key
        self.size = size
        self._built: OrderedDict[int, asyncio.Task[ReadModels]] = OrderedDict()

    async def at(self, seq: int) -> ReadModels:
        task = self._built.get(seq)
        if task is None:
            task = asyncio.create_task(read_models_at(self.nc, seq, writer_key=self.writer_key))
            self._built[seq] = task
        self._built.move_to_end(seq)
        while len(self._built) > self.size:
            self._built.popitem(last=False)
        try:
            # Shielded: a caller that goes away leaves the state to the cache, not half built.
            return await asyncio.shield(task)
        except Exception:
            if self._built.get(seq) is task:
                del self._built[seq]
            raise

    def close(self) -> None:
        for task in self._built.values():
            task.cancel()
        self._built.clear()
