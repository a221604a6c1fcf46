"""The JetStream layout: one list of streams and buckets, which the layout step declares
idempotently over the layout credential, and which every other process only checks."""

from __future__ import annotations

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.errors import UnavailableError
from domain.queue import Priority
from infra.connection import connect
from infra.settings import Login

EVENTS = "EVENTS"
EVENT_SUBJECTS = "ev.>"
SNAPSHOTS = "SNAPSHOTS"
QUEUE = "QUEUE"
LEASES = "LEASES"
HEARTBEATS = "HEARTBEATS"
LOGS = "LOGS"
LOG_MAX_AGE_S = 30 * 86400.0
"""`Settings.log_retention_days`'s default, for callers that lay out without settings."""
AUDIT = "AUDIT"
CHECKPOINT_SUBJECT = "audit.checkpoint.EVENTS"
"""Signed checkpoints of EVENTS (infra.checkpoints), written by `workers.checkpointer`."""
CONFIG_BUCKET = "jetdeck-config"
SESSIONS_BUCKET = "jetdeck-sessions"
"""Login sessions by the SHA-256 of their id; each key's TTL is its idle timeout."""
JTI_BUCKET = "jetdeck-oidc-jti"
"""The ids of the OIDC tokens exchanged, each kept until its token expires: no replay."""
QUEUED_EVENTS = "ev.job.*.queued.*.*"
"""`ev.job.<id>.queued.<pool>.<priority>`: the server copies these into QUEUE."""
TICKET_SIGNALS = "jetdeck.tickets.>"
"""`jetdeck.tickets.<pool>.<priority>.<id>`: QUEUE republishes each ticket's headers here once it
is stored, which is when a claim can pull it (infra/claims.py)."""


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
        republish=RePublish(src="q.>", dest=TICKET_SIGNALS, headers_only=True),
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


def logs_stream(replicas: int, max_age_s: float = LOG_MAX_AGE_S) -> StreamConfig:
    """Job output, one subject per job (`log.<job_id>`), in the order the agent sent it; each
    chunk kept `max_age_s` (the events, the audit trail, are kept forever)."""
    return StreamConfig(
        name=LOGS,
        subjects=["log.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        allow_direct=True,
        max_age=max_age_s,
    )


def audit_stream(replicas: int) -> StreamConfig:
    """Signed checkpoints: kept forever, never deleted or purged (deleting the whole stream stays
    possible for the admin credential; verification then finds no checkpoint to hold)."""
    return StreamConfig(
        name=AUDIT,
        subjects=["audit.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        deny_delete=True,
        deny_purge=True,
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


Declaration = StreamConfig | KeyValueConfig | ObjectStoreConfig


def declarations(replicas: int, log_max_age_s: float = LOG_MAX_AGE_S) -> list[Declaration]:
    """Everything JetDeck needs, in the order it is declared: QUEUE sources EVENTS."""
    return [
        events_stream(replicas),
        queue_stream(replicas),
        liveness_stream(LEASES, "lease.>", replicas),  # TTL: a job's lease
        liveness_stream(HEARTBEATS, "hb.>", replicas),  # TTL: until offline
        logs_stream(replicas, log_max_age_s),
        audit_stream(replicas),
        ObjectStoreConfig(bucket=SNAPSHOTS),
        KeyValueConfig(bucket=CONFIG_BUCKET),
        # No bucket TTL, which would cap every key's own; no direct gets, which a follower may
        # answer before it has seen a logout.
        KeyValueConfig(bucket=SESSIONS_BUCKET, replicas=replicas, direct=False),
        KeyValueConfig(bucket=JTI_BUCKET, history=1),  # per-key TTLs: `create(msg_ttl=)`
    ]


def stream_name(declaration: Declaration) -> str:
    if isinstance(declaration, KeyValueConfig):
        return f"KV_{declaration.bucket}"
    if isinstance(declaration, ObjectStoreConfig):
        return f"OBJ_{declaration.bucket}"
    assert declaration.name is not None
    return declaration.name


async def declare(js: JetStreamContext, declaration: Declaration) -> None:
    if isinstance(declaration, KeyValueConfig):
        await js.create_key_value(declaration)
    elif isinstance(declaration, ObjectStoreConfig):
        assert declaration.bucket is not None
        await js.create_object_store(declaration.bucket, declaration)
    else:
        await ensure_stream(js, declaration)


async def ensure_layout(
    js: JetStreamContext, replicas: int, log_max_age_s: float = LOG_MAX_AGE_S
) -> None:
    for declaration in declarations(replicas, log_max_age_s):
        await declare(js, declaration)


async def apply_layout(
    url: str, login: Login | None, replicas: int, log_max_age_s: float = LOG_MAX_AGE_S
) -> None:
    """The layout step, over a connection of its own that lives no longer than it.

    A credential that may not create streams gets no error from the server, only a timeout or
    at times "no responders" (the violation goes to the connection's error callback, which
    logs it)."""
    nc = await connect(url, "jetdeck-layout", login)
    try:
        await ensure_layout(nc.jetstream(), replicas, log_max_age_s)
    except (TimeoutError, NoRespondersError) as exc:
        raise UnavailableError(
            "the layout step got no answer: may its credential (JETDECK_NATS_ADMIN_USER) "
            "create streams?"
        ) from exc
    finally:
        await nc.close()


async def check_layout(js: JetStreamContext, replicas: int) -> None:
    """What every other process does instead of declaring, which its credential may not."""
    missing: list[str] = []
    for declaration in declarations(replicas):
        name = stream_name(declaration)
        try:
            await js.stream_info(name)
        except JsNotFoundError:
            missing.append(name)
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"stream {name} did not answer: {exc!r}") from exc
    if missing:
        raise UnavailableError(
            f"missing {', '.join(missing)}: run the layout step first "
            "(`make run` does; else `python -m workers.layout` with the layout credential)"
        )
