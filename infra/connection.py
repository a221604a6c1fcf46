"""One NATS connection per process."""

from __future__ import annotations

import nats
from nats.aio.client import Client

from infra.settings import split_servers


async def connect(url: str, name: str) -> Client:
    return await nats.connect(
        servers=split_servers(url),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        pending_size=64 * 1024 * 1024,
    )
