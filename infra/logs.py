"""Job output on the LOGS stream: one subject per job (`log.<job_id>`), one message per chunk.

A chunk's JetStream sequence is its place in the log, so the log of a job is its subject read in
stream order. A batch of chunks is published pipelined (`publish_async`) on one connection, which
keeps the batch's order, then every ack is awaited. A batch may name the `offset` of its first
chunk among all chunks its claim sent; each chunk then carries `Nats-Msg-Id`
`<job>:<writer>:<n>`, where the writer names the claim (attempt numbers repeat after a release),
so an agent that retries a batch after a lost answer stores nothing twice (within the stream's
duplicate window).

Only the agent holding the job's lease may write (`verify_writer`): the lease is checked against
the event log just before the append, so a chunk from an attempt that loses its lease in that
instant can still land; it is tagged with its attempt, so a reader can tell the attempts apart.

Reads use batched Direct Get. `follow` yields chunks after a sequence as they are stored (an
ordered consumer on `log.<job_id>`) until `JobEnd` says the job reached an ending status and every
chunk stored by then has been yielded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal
from uuid import UUID

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, PubAck
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.errors import UnavailableError, UndecodableEventError
from domain.job import Job
from domain.job_effects import status_after
from domain.job_status import FINISHED, JobStatus
from infra.codec import decode
from infra.event_store import EventStore
from infra.layout import EVENTS, LOGS, aggregate_filter
from infra.queue import QueueService
from infra.tokens import Claim

OutputStream = Literal["stdout", "stderr"]
ENDED = FINISHED | {JobStatus.DEAD_LETTERED}
"""Statuses after which a job writes no more output."""


@dataclass(frozen=True, slots=True)
class NewChunk:
    stream: OutputStream
    text: str


@dataclass(frozen=True, slots=True)
class LogChunk:
    seq: int
    stream: OutputStream
    text: str
    time: datetime
    attempt: int


def log_subject(job_id: str) -> str:
    return f"log.{job_id}"


def _payload(chunk: NewChunk, attempt: int, at: str) -> bytes:
    return orjson.dumps(
        {"stream": chunk.stream, "text": chunk.text, "time": at, "attempt": attempt}
    )


def _chunk(seq: int, payload: bytes) -> LogChunk:
    body = orjson.loads(payload)
    return LogChunk(
        seq=seq,
        stream=body["stream"],
        text=body["text"],
        time=datetime.fromisoformat(body["time"]),
        attempt=body["attempt"],
    )


class LogStore:
    def __init__(self, nc: Client, timeout_s: float = 5.0) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout_s)
        self.timeout_s = timeout_s
        self._reader = EventStore(nc, stream=LOGS, timeout_s=timeout_s)

    async def append(
        self,
        job_id: str,
        attempt: int,
        chunks: Sequence[NewChunk],
        offset: int | None = None,
        writer: str = "",
    ) -> list[int]:
        """Store `chunks` in order; their sequences, in the same order.

        With `offset`, a chunk `writer` already stored at the same place is not stored again.
        """
        at = datetime.now(UTC).isoformat()
        subject = log_subject(job_id)
        acks: list[asyncio.Future[PubAck]] = []
        try:
            for n, chunk in enumerate(chunks):
                headers = (
                    None if offset is None else {"Nats-Msg-Id": f"{job_id}:{writer}:{offset + n}"}
                )
                acks.append(
                    await self.js.publish_async(
                        subject,
                        _payload(chunk, attempt, at),
                        wait_stall=self.timeout_s,
                        headers=headers,
                    )
                )
            done = await asyncio.wait_for(asyncio.gather(*acks), self.timeout_s)
        except (NatsError, TimeoutError) as exc:
            for ack in acks:
                ack.cancel()
            raise UnavailableError(
                f"the log of job {job_id} did not take the write: {exc!r}"
            ) from exc
        return [ack.seq for ack in done]

    async def read(self, job_id: str, after_seq: int = 0) -> list[LogChunk]:
        """Every chunk of the job after `after_seq`, in order."""
        stored = await self._reader.load(log_subject(job_id), after_seq)
        return [_chunk(m.seq, m.payload) for m in stored]

    async def last_seq(self, job_id: str) -> int:
        """The sequence of the job's last chunk, 0 when it has none (a consistent read)."""
        try:
            last = await self.js.get_last_msg(LOGS, log_subject(job_id))
        except JsNotFoundError:
            return 0
        return last.seq or 0

    async def follow(
        self, job_id: str, after_seq: int, ended: asyncio.Event
    ) -> AsyncGenerator[LogChunk, None]:
        """Chunks after `after_seq` as they are stored; ends once `ended` is set and every chunk
        stored by then was yielded, or when the caller stops iterating."""
        arrived: asyncio.Queue[LogChunk] = asyncio.Queue()

        async def on_msg(msg: Msg) -> None:
            arrived.put_nowait(_chunk(msg.metadata.sequence.stream, msg.data))

        sub = await self.js.subscribe(
            log_subject(job_id),
            stream=LOGS,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1
            ),
            cb=on_msg,
            pending_msgs_limit=-1,
            pending_bytes_limit=-1,
        )
        try:
            while (chunk := await _next_or_end(arrived, ended)) is not None:
                yield chunk
                after_seq = chunk.seq
            stop_at = await self.last_seq(job_id)
            while after_seq < stop_at:
                try:
                    chunk = await asyncio.wait_for(arrived.get(), self.timeout_s)
                except TimeoutError as exc:
                    raise UnavailableError(f"the log of job {job_id} stopped arriving") from exc
                yield chunk
                after_seq = chunk.seq
        finally:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()


async def _next_or_end(arrived: asyncio.Queue[LogChunk], ended: asyncio.Event) -> LogChunk | None:
    """The next chunk, or None once `ended` is set with nothing waiting."""
    if not arrived.empty():
        return arrived.get_nowait()
    if ended.is_set():
        return None
    getting = asyncio.ensure_future(arrived.get())
    ending = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({getting, ending}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ending.cancel()
        getting.cancel()  # a chunk not yet taken stays in the queue
    if getting.done() and not getting.cancelled():
        return getting.result()
    return None


class JobEnd:
    """Watches a job's events; `ended` is set once its latest event leaves it in an ENDED status.

    An ordered consumer on `ev.job.<id>.>` from the job's last stored event, so it sees only
    stored events, whatever happened before it started.
    """

    def __init__(self, nc: Client, job_id: UUID, writer_key: bytes | None = None) -> None:
        """With `writer_key`, a forged ending (its MAC does not hold) ends nothing."""
        self.js = nc.jetstream()
        self.job_id = job_id
        self.writer_key = writer_key
        self.ended = asyncio.Event()
        self.status: JobStatus | None = None
        self._sub: JetStreamContext.PushSubscription | None = None

    async def __aenter__(self) -> JobEnd:
        self._sub = await self.js.subscribe(
            aggregate_filter(Job.KIND, str(self.job_id)),
            stream=EVENTS,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST),
            cb=self._on_event,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sub = self._sub
        self._sub = None
        if sub is not None:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()

    async def _on_event(self, msg: Msg) -> None:
        try:
            recorded = decode(msg.metadata.sequence.stream, msg.subject, msg.data, self.writer_key)
        except UndecodableEventError:
            return
        status = ending_status(recorded.event)
        if status is not None and not self.ended.is_set():
            self.status = status
            self.ended.set()


def ending_status(event: object) -> JobStatus | None:
    """The status an event leaves a job in, when that status ends the job's output."""
    status = status_after(event)
    return status if status in ENDED else None


def writer_key(claim: Claim) -> str:
    """Names one claim of a job: its ticket's ack subject is unique to the delivery."""
    return hashlib.sha256(claim.ack_subject.encode()).hexdigest()[:16]


async def verify_writer(queue: QueueService, job_id: UUID, token: str) -> Claim:
    """The claim of the attempt that holds the job's lease now.

    401 for a token we did not sign, 403 for a token of another job, 409 when its attempt no
    longer holds the lease (finished, cancelled, expired or claimed again).
    """
    claim = queue.claim_of(job_id, token)
    job = (await queue.load(job_id)).aggregate
    job.require_lease(claim.agent_id, claim.attempt, claim.ack_subject)
    return claim
