"""Agents' heartbeats written to HEARTBEATS in pipelined batches by one task.

A beat awaited as its own JetStream request made every heartbeat pay nats-py's per-publish
machinery (a task, stdlib `json`, a `PubAck`) and, at a thousand agents, one socket write each.
Here a beat goes into a bounded queue; one task takes what has gathered (up to `max_batch`,
lingering `linger_s` after the first so a batch can fill), publishes the lot without awaiting, so
one socket write carries it, and each ack comes back on the shared reply inbox of
`infra.replies` to the caller that waits for it. The caller expects its ack before it queues the
beat, so one future and one timer see a beat through both the queue and the stream.

The caller awaits its beat's ack, so a beat is never lost in silence: a write the stream refuses,
or does not acknowledge within `timeout_s`, or that finds the queue full, raises
UnavailableError (503, retry), as the awaited publish did. Beats of one agent stay in order: one
task publishes them, on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import NamedTuple

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from domain.errors import UnavailableError
from infra.replies import Expected, Replies

MAX_BATCH = 512
MAX_QUEUED = 20_000
"""About four seconds of beats at the rate the bench drives: a queue deeper than that would only
hold beats whose callers have given up."""
LINGER_S = 0.0
"""One turn of the event loop, for the beats being handled meanwhile to join the batch. Measured
under the heartbeat bench, taking turns: a millisecond's linger gave 12,152 / 13,050 beats/s at
62 / 59 us of CPU each, one turn 14,118 / 14,738 at 59 / 56; and publishing each beat from its
own task, with no batch, 13,741 / 14,304 at 65 / 63 (nats-py's flusher then writes more often)."""


class _Beat(NamedTuple):
    subject: str
    payload: bytes
    ack: Expected


class BeatWriter:
    def __init__(
        self,
        nc: Client,
        ttl_s: int,
        timeout_s: float,
        max_batch: int = MAX_BATCH,
        max_queued: int = MAX_QUEUED,
        linger_s: float = LINGER_S,
    ) -> None:
        self.nc = nc
        self.replies = Replies(nc)
        self.headers = {"Nats-TTL": f"{ttl_s}s"}
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._queue: asyncio.Queue[_Beat] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.replies.start()
        self._task = asyncio.create_task(self._flush_forever(), name="beat-writer")

    async def stop(self) -> None:
        """Beats still queued fail with UnavailableError: their callers answer 503."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), UnavailableError("the heartbeat writer stopped"))

    async def write(self, agent_id: str, payload: bytes) -> None:
        """`payload` on `hb.<agent_id>`, returning once the stream has acknowledged it."""
        if self._task is None:
            raise UnavailableError("the heartbeat writer is not running")
        beat = _Beat(f"hb.{agent_id}", payload, self.replies.expect())
        try:
            self._queue.put_nowait(beat)
        except asyncio.QueueFull:
            self.replies.forget(beat.ack)
            raise UnavailableError("heartbeat writes are backed up; retry shortly") from None
        try:
            answer = await self.replies.wait(beat.ack, self.timeout_s)
        except TimeoutError:
            raise UnavailableError(
                f"the heartbeat of agent {agent_id} was not acknowledged in {self.timeout_s} s"
            ) from None
        except NoRespondersError:
            raise UnavailableError("no stream took the heartbeat") from None
        if "error" in answer:
            raise UnavailableError(f"the stream refused the heartbeat: {answer['error']}")

    async def _flush_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._queue.qsize() < self.max_batch - 1:
                await asyncio.sleep(self.linger_s)  # so one write carries many beats
            for _ in range(min(self._queue.qsize(), self.max_batch - 1)):
                batch.append(self._queue.get_nowait())
            await self._publish(batch)

    async def _publish(self, batch: list[_Beat]) -> None:
        """Every beat of the batch goes out before the flusher writes the socket; none awaits
        its ack here."""
        publish = self.nc.publish
        for beat in batch:
            try:
                await publish(beat.subject, beat.payload, beat.ack.inbox, headers=self.headers)
            except NatsError as exc:
                _fail(beat, UnavailableError(f"publishing a heartbeat: {exc!r}"))


def _fail(beat: _Beat, error: UnavailableError) -> None:
    if not beat.ack.reply.done():  # else its caller gave up waiting, and has answered 503
        beat.ack.reply.set_exception(error)
