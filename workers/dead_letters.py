"""The dead-letter handler: `python -m workers.dead_letters`.

When a job is dead-lettered the queue service terms its ticket, but a process can die between
appending `DeadLettered` and that +TERM. This worker reads every `job.DeadLettered` event from
EVENTS with a durable consumer (so none is missed across restarts), removes the job's ticket from
QUEUE if one older than the dead letter is still there, and announces the dead letter on
`jetdeck.notify.dead_letter` for alerting. Both steps are idempotent, so redelivery is harmless.
"""

from __future__ import annotations

import logging
from uuid import UUID

import orjson
from faststream import AckPolicy, FastStream
from faststream.exceptions import NackMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.errors import UnavailableError, UndecodableEventError
from domain.job import Job
from domain.values import is_sequence_number
from infra.codec import decode
from infra.connection import broker_security
from infra.event_store import EventStore
from infra.layout import EVENTS, QUEUE, queue_subject
from infra.logging_setup import broker_logger
from infra.settings import Settings
from infra.unit_of_work import fold, load_history
from workers.process import run_app

log = logging.getLogger(__name__)
NOTIFY = "jetdeck.notify.dead_letter"
SOURCE_HEADER = "Nats-Stream-Source"
RETRY_S = 5.0


def ticket_source_seq(headers: dict[str, str]) -> int | None:
    """The EVENTS sequence a QUEUE ticket was copied from: `EVENTS <seq> <filter> ...`."""
    parts = headers.get(SOURCE_HEADER, "").split()
    return int(parts[1]) if len(parts) > 1 and is_sequence_number(parts[1]) else None


async def remove_stale_ticket(nc: Client, job: Job, dead_at_seq: int) -> bool:
    """Delete the job's ticket if it predates the dead letter; a later retry's ticket stays."""
    spec = job.queue_spec
    js = nc.jetstream()
    try:
        ticket = await js.get_last_msg(QUEUE, queue_subject(spec.pool, spec.priority, str(job.id)))
    except JsNotFoundError:
        return False
    source = ticket_source_seq(ticket.headers or {})
    if source is None or ticket.seq is None or source >= dead_at_seq:
        return False
    await js.delete_msg(QUEUE, ticket.seq)
    return True


async def handle_dead_letter(store: EventStore, seq: int, subject: str, payload: bytes) -> None:
    """A forged dead letter (its MAC does not hold) is refused like an undecodable one."""
    nc = store.nc
    recorded = decode(seq, subject, payload, await store.key())
    event = recorded.event
    if not isinstance(event, Job.DeadLettered):
        return
    history = await load_history(store, Job.KIND, UUID(recorded.aggregate_id))
    job = fold([r for r in history if r.seq <= seq])
    assert isinstance(job, Job)
    removed = await remove_stale_ticket(nc, job, seq)
    notice = {
        "job_id": recorded.aggregate_id,
        "reason": event.reason,
        "attempts": event.attempts,
        "seq": seq,
        "ticket_removed": removed,
    }
    await nc.publish(NOTIFY, orjson.dumps(notice))


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    broker = NatsBroker(
        settings.server_urls,
        security=broker_security(settings.nats_login),
        logger=broker_logger(),
    )
    key = settings.writer_key.encode() if settings.writer_key else None
    held: list[EventStore] = []

    def store() -> EventStore:
        """Made once the broker is connected, and kept, so the writer key is read once."""
        if not held:
            held.append(EventStore(broker.connection, writer_key=key))
        return held[0]

    @broker.subscriber(
        "ev.job.*.deadlettered",
        stream=JStream(EVENTS, declare=False),
        durable="dead-letter-handler",
        pull_sub=PullSub(batch_size=1, timeout=30.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_dead_letter(msg: NatsMessage) -> None:
        """Passing trouble is retried after a pause; a message that can never be handled is
        logged and acked, so it cannot loop."""
        raw = msg.raw_message
        seq = raw.metadata.sequence.stream
        try:
            await handle_dead_letter(store(), seq, raw.subject, raw.data)
        except UndecodableEventError as exc:
            log.warning("dead-letter handler skips %s", exc)
        except (UnavailableError, NatsError, TimeoutError) as exc:
            raise NackMessage(delay=RETRY_S) from exc
        except Exception:
            log.exception("dead-letter handler cannot handle event %d; dropped", seq)

    return FastStream(broker)


def main() -> None:
    run_app("dead_letters", create_app)


if __name__ == "__main__":
    main()
