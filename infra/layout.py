"""The JetStream layout, declared once and applied idempotently at start."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError as JsNotFoundError

EVENTS = "EVENTS"
EVENT_SUBJECTS = "ev.>"
SNAPSHOTS = "SNAPSHOTS"


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
    await js.create_object_store(SNAPSHOTS)
