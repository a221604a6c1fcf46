"""The JetStream layout, declared once and applied idempotently at start."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.queue import Priority

EVENTS = "EVENTS"
EVENT_SUBJECTS = "ev.>"
SNAPSHOTS = "SNAPSHOTS"
QUEUE = "QUEUE"
LEASES = "LEASES"
HEARTBEATS = "HEARTBEATS"
LOGS = "LOGS"
CONFIG_BUCKET = "jetdeck-config"
QUEUED_EVENTS = "ev.job.*.queued.*.*"
"""`ev.job.<id>.queued.<pool>.<priority>`: the server copies these into QUEUE."""


def event_subject(kind: str, aggregate_id: str, token: str) -> str:
    return f"ev.{kind}.{aggregate_id}.{token}"


def aggregate_filter(kind: str, aggregate_id: str) -> str:
    return f"ev.{kind}.{aggregate_id}.>"


def events_stream(replicas: int) -> StreamConfig:
    """Append-only: no limits, no deletes, no purges. Schedules stay off (they clear deny_purge)."""
    return StreamConfig(
        name=EVENTS,
        subjects=[EVENT_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=120.0,
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        allow_atomic=True,
    )


def queue_stream(replicas: int) -> StreamConfig:
    """The work queue: the server sources queued events, so queueing a job is one append."""
    return StreamConfig(
        name=QUEUE,
        subjects=[],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=replicas,
        sources=[
            StreamSource(
                name=EVENTS,
                subject_transforms=[
                    SubjectTransform(
                        src=QUEUED_EVENTS, dest="q.{{wildcard(2)}}.{{wildcard(3)}}.{{wildcard(1)}}"
                    )
                ],
            )
        ],
    )


def liveness_stream(name: str, subject: str, replicas: int) -> StreamConfig:
    """One message per subject, written with a TTL and rewritten while its owner lives; when it
    is not, the server removes it and leaves a `MaxAge` marker, whoever is watching."""
    return StreamConfig(
        name=name,
        subjects=[subject],
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=1,
        allow_msg_ttl=True,
        subject_delete_marker_ttl=24 * 3600.0,
    )


def logs_stream(replicas: int) -> StreamConfig:
    """Job output, one subject per job (`log.<job_id>`), in the order the agent sent it."""
    return StreamConfig(
        name=LOGS,
        subjects=["log.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        allow_direct=True,
    )


def queue_subject(pool: str, priority: Priority, job_id: str = "*") -> str:
    return f"q.{pool}.{priority.value}.{job_id}"


def consumer_name(pool: str, priority: Priority) -> str:
    return f"q-{pool}-{priority.value}"


def queue_consumer(pool: str, priority: Priority, ack_wait_s: float) -> ConsumerConfig:
    """`ack_wait` is the crash backstop; a job's own lease is enforced through LEASES.

    The attempt budget is per job and counted by the domain, so deliveries are unlimited:
    a delayed job nak'ed until its time would otherwise spend a consumer's budget.
    """
    return ConsumerConfig(
        durable_name=consumer_name(pool, priority),
        filter_subject=queue_subject(pool, priority),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_s,
        max_deliver=-1,
        max_ack_pending=100_000,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to `config`."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except JsNotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def ensure_layout(js: JetStreamContext, replicas: int) -> None:
    await ensure_stream(js, events_stream(replicas))
    await ensure_stream(js, queue_stream(replicas))
    await ensure_stream(js, liveness_stream(LEASES, "lease.>", replicas))  # TTL: a job's lease
    await ensure_stream(js, liveness_stream(HEARTBEATS, "hb.>", replicas))  # TTL: until offline
    await ensure_stream(js, logs_stream(replicas))
    await js.create_object_store(SNAPSHOTS)
    await js.create_key_value(bucket=CONFIG_BUCKET)
