"""Agents' heartbeats written to HEARTBEATS in pipelined batches by one task.

A beat awaited as its own JetStream request made every heartbeat pay nats-py's per-publish
machinery (a task, stdlib `json`, a `PubAck`) and, at a thousand agents, one socket write each.
Here a beat goes into a bounded queue; one task takes what has gathered (up to `max_batch`,
lingering `linger_s` after the first so a batch can fill), publishes the lot without awaiting, so
one socket write carries it, and each ack, on one shared inbox, settles its own beat.

The caller awaits its beat's ack, so a beat is never lost in silence: a write the stream refuses,
or does not acknowledge within `timeout_s`, or that finds the queue full, raises
UnavailableError (503, retry), as the awaited publish did. Beats of one agent stay in order: one
task publishes them, on one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import NamedTuple

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from domain.errors import UnavailableError

MAX_BATCH = 512
MAX_QUEUED = 20_000
"""About four seconds of beats at the rate the bench drives: a queue deeper than that would only
hold beats whose callers have given up."""
LINGER_S = 0.001


class _Beat(NamedTuple):
    subject: str
    payload: bytes
    reply: str


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
        self.headers = {"Nats-TTL": f"{ttl_s}s"}
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self.linger_s = linger_s
        self._queue: asyncio.Queue[_Beat] = asyncio.Queue(max_queued)
        self._inbox = nc.new_inbox()
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._next = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        self._task = asyncio.create_task(self._flush_forever(), name="beat-writer")

    async def stop(self) -> None:
        """Beats still queued fail with UnavailableError: their callers answer 503."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(NatsError):
                await self._sub.unsubscribe()
            self._sub = None
        self._fail_all("the heartbeat writer stopped")

    async def write(self, agent_id: str, payload: bytes) -> None:
        """`payload` on `hb.<agent_id>`, returning once the stream has acknowledged it."""
        if self._task is None:
            raise UnavailableError("the heartbeat writer is not running")
        self._next += 1
        token = str(self._next)
        beat = _Beat(f"hb.{agent_id}", payload, f"{self._inbox}.{token}")
        try:
            self._queue.put_nowait(beat)
        except asyncio.QueueFull:
            raise UnavailableError("heartbeat writes are backed up; retry shortly") from None
        done = self._waiting[token] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.timeout_s):
                await done
        except TimeoutError:
            raise UnavailableError(
                f"the heartbeat of agent {agent_id} was not acknowledged in {self.timeout_s} s"
            ) from None
        finally:
            self._waiting.pop(token, None)

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
        for beat in batch:
            try:
                await self.nc.publish(
                    beat.subject, beat.payload, reply=beat.reply, headers=self.headers
                )
            except NatsError as exc:
                self._settle(beat.reply, UnavailableError(f"publishing a heartbeat: {exc!r}"))

    async def _on_ack(self, msg: Msg) -> None:
        self._settle(msg.subject, _refusal(msg))

    def _settle(self, reply: str, error: UnavailableError | None) -> None:
        done = self._waiting.get(reply[len(self._inbox) + 1 :])
        if done is None or done.done():
            return  # its caller gave up waiting, and has answered 503
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def _fail_all(self, why: str) -> None:
        for done in self._waiting.values():
            if not done.done():
                done.set_exception(UnavailableError(why))


def _refusal(msg: Msg) -> UnavailableError | None:
    """None for an ack; else what went wrong (no stream listening, or the stream's error)."""
    if msg.headers and msg.headers.get("Status") == "503":
        return UnavailableError("no stream took the heartbeat")
    try:
        answer = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return UnavailableError("the heartbeat's ack was not JSON")
    if isinstance(answer, dict) and "error" in answer:
        return UnavailableError(f"the stream refused the heartbeat: {answer['error']}")
    return None
