"""One NATS connection per process."""

from __future__ import annotations

import nats
from faststream.nats import NatsUserPassword
from nats.aio.client import Client

from infra.settings import Login, split_servers


async def connect(url: str, name: str, login: Login | None = None) -> Client:
    """`login` None: the URL carries the credential, or the server asks for none."""
    return await nats.connect(
        servers=split_servers(url),
        name=name,
        user=None if login is None else login.user,
        password=None if login is None else login.password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        pending_size=64 * 1024 * 1024,
    )


def broker_security(login: Login | None) -> NatsUserPassword | None:
    """The same credential for a FastStream broker."""
    return None if login is None else NatsUserPassword(login.user, login.password)
