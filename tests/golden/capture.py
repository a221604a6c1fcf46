"""Capture golden samples from a real store: the first stored event of every (type, version)
that has no sample yet. The `fresh_server` fixture calls it before it stops its server when
JETDECK_GOLDEN_CAPTURE=1, so a run of the suite fills what is missing."""

from __future__ import annotations

import nats

from domain.errors import UndecodableEventError
from infra.codec import content_of, decode
from infra.event_store import EventStore
from tests.golden import sample_path, write_new


async def capture_missing(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        stored = await EventStore(nc).load("ev.>")
    finally:
        await nc.close()
    written = []
    for message in stored:
        try:
            recorded = decode(message.seq, message.subject, message.payload)
        except UndecodableEventError:
            continue
        version = type(recorded.event).class_version
        sample = {"subject": message.subject, "content": content_of(message.payload).decode()}
        if write_new(sample_path(recorded.type, version), sample):
            written.append(f"{recorded.type}.v{version}")
    return written
