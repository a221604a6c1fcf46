"""The floor under the queue's end-to-end figure: raw nats-py doing the writes JetDeck must do for
every job, and nothing else.

The issue measures the queue against a raw work queue (publish, fetch, ack), which writes no
audit trail. It also asks that every claim and completion be in the log and every claimed job
hold a lease. So per job, in the order JetDeck does them:

* enqueue: the job's real `Created` event, appended with the event store's headers, which the
  server copies into the queue stream (and republishes as a ticket signal);
* claim: a `fetch(1)` from the level's durable consumer, then the lease (a `Nats-TTL` message)
  and the `Claimed` event (expecting the job's last sequence), pipelined, both acks awaited;
* complete: the `Completed` event (expecting the `Claimed` one), the ticket's ack and the
  lease's purge, pipelined, awaited.

No decisions, no read models, no validation, no HMAC: what is left is the wire and the server.
Writes go out on one shared reply inbox (`infra.replies`, the cheapest publish there is in
nats-py). The streams are copies of EVENTS, QUEUE and LEASES under other names and subjects,
declared once before the runs, so the services of the bench process never see these events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import RePublish, StreamConfig, StreamSource, SubjectTransform

from bench.common import store_headers
from bench.queue_common import POOL, queued_messages
from bench.queue_sides import AGENTS, LEVEL, Agent, Phases, Side, fetching_agent
from infra.event_store import EventStore, Outgoing
from infra.layout import (
    consumer_name,
    events_stream,
    liveness_stream,
    queue_consumer,
    queue_stream,
)
from infra.replies import Replies
from infra.tickets import source_seq

EVENTS = "FLOOR_EVENTS"
QUEUE = "FLOOR_QUEUE"
LEASES = "FLOOR_LEASES"
PURGE = f"$JS.API.STREAM.PURGE.{LEASES}"
TIMEOUT_S = 30.0


def streams() -> list[StreamConfig]:
    """EVENTS, QUEUE and LEASES as JetDeck declares them, under the floor's names."""
    source = StreamSource(
        name=EVENTS,
        subject_transforms=[
            SubjectTransform(
                src="fev.job.*.queued.*.*",
                dest="fq.{{wildcard(2)}}.{{wildcard(3)}}.{{wildcard(1)}}",
            )
        ],
    )
    return [
        replace(events_stream(1), name=EVENTS, subjects=["fev.>"]),
        replace(
            queue_stream(1),
            name=QUEUE,
            sources=[source],
            republish=RePublish(src="fq.>", dest="floor.tickets.>", headers_only=True),
        ),
        liveness_stream(LEASES, "flease.>", 1),
    ]


def queue_subject(job_id: str = "*") -> str:
    return f"fq.{POOL}.{LEVEL.value}.{job_id}"


@dataclass(frozen=True)
class Floor:
    nc: Client
    store: EventStore
    replies: Replies

    @classmethod
    async def declared(cls, nc: Client, store: EventStore) -> Floor:
        """The floor's streams and consumer, declared once: the server's sourcing into the queue
        stream is running before the first run, as QUEUE's is for JetDeck's."""
        js = nc.jetstream()
        for config in streams():
            await js.add_stream(config)
        consumer = replace(queue_consumer(POOL, LEVEL, TIMEOUT_S), filter_subject=queue_subject())
        await js.add_consumer(QUEUE, consumer)
        replies = Replies(nc)
        await replies.start()
        return cls(nc, store, replies)

    async def phased(self, jobs: int) -> Phases:
        """With the jobs' events made before the clock starts."""
        created = await self._created(jobs)
        side = Side(
            lambda n: enqueue(self.replies, created[:n]), [agent(self.nc, self.replies)] * AGENTS
        )
        return await side.phased(jobs)

    async def fill(self, jobs: int) -> None:
        """`jobs` jobs queued for claims to take."""
        await enqueue(self.replies, await self._created(jobs))

    async def _created(self, jobs: int) -> list[list[Outgoing]]:
        key = await self.store.key()
        return [queued_messages(self.store, LEVEL, key) for _ in range(jobs)]


async def enqueue(replies: Replies, jobs: Sequence[list[Outgoing]]) -> None:
    """Every job's `Created` event pipelined, every ack awaited."""
    answers = []
    for messages in jobs:
        for message in messages:
            answers.append(
                await replies.send(f"f{message.subject}", message.payload, _headers(message))
            )
    for answer in answers:
        _stored(await answer(TIMEOUT_S))


def agent(nc: Client, replies: Replies) -> Agent:
    async def work(ticket: Msg) -> None:
        await complete(nc, replies, await claim(replies, ticket))

    return fetching_agent(nc.jetstream(), QUEUE, consumer_name(POOL, LEVEL), work)


class Claimed(NamedTuple):
    job_id: str
    ack_subject: str
    seq: int
    """The `Claimed` event's, which `Completed` expects."""
    payload: bytes
    """The ticket's, the size of a job event: `Claimed` and `Completed` carry as much."""


async def claim(replies: Replies, ticket: Msg) -> Claimed:
    """The lease and `Claimed`, pipelined."""
    job_id = ticket.subject.rsplit(".", 1)[1]
    body = orjson.dumps({"agent_id": "floor", "ack_subject": ticket.reply})
    lease = await replies.send(f"flease.{job_id}", body, {"Nats-TTL": "300s"})
    claimed = await replies.send(
        f"fev.job.{job_id}.claimed", ticket.data, _expecting(job_id, "claimed", source_seq(ticket))
    )
    _stored(await lease(TIMEOUT_S))
    return Claimed(job_id, ticket.reply, _stored(await claimed(TIMEOUT_S)), ticket.data)


async def complete(nc: Client, replies: Replies, claimed: Claimed) -> None:
    """`Completed`, the ticket's ack and the lease's purge, pipelined."""
    job_id = claimed.job_id
    completed = await replies.send(
        f"fev.job.{job_id}.completed",
        claimed.payload,
        _expecting(job_id, "completed", claimed.seq),
    )
    await nc.publish(claimed.ack_subject, b"+ACK")
    purge = await replies.send(PURGE, orjson.dumps({"filter": f"flease.{job_id}"}), None)
    _stored(await completed(TIMEOUT_S))
    _stored(await purge(TIMEOUT_S))


def _headers(message: Outgoing) -> dict[str, str]:
    """The event store's headers for an append, naming the floor's stream."""
    return store_headers(message) | {"Nats-Expected-Stream": EVENTS}


def _expecting(job_id: str, what: str, seq: int) -> dict[str, str]:
    """A job event's headers when the job's last event is at `seq`."""
    subject = f"fev.job.{job_id}.{what}"
    return _headers(Outgoing(subject, b"", f"{job_id}-{what}", seq, f"fev.job.{job_id}.>"))


def _stored(answer: dict[str, Any]) -> int:
    if "error" in answer:
        raise RuntimeError(f"the floor's write was refused: {answer['error']}")
    seq: int = answer.get("seq", 0)
    return seq
