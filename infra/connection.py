"""A process's NATS connection: nats-py's client, but for the messages of a follow of EVENTS,
which its parser (`infra.wire`) hands to the follow unparsed (infra/follower says why). One per
process, and a second only for a snapshot writer's pictures while it follows (`sibling`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Protocol
from urllib.parse import ParseResult

from faststream.nats import NatsUserPassword
from nats.aio.client import Client, Srv
from nats.aio.subscription import Subscription
from nats.aio.transport import TcpTransport

from infra.settings import Login, split_servers
from infra.wire import FollowingParser

READ_BUFFER = 1024 * 1024
"""How much a connection of the process reads at once, and (twice it) how much its socket reader
holds before it stops reading the socket. At nats-py's 32 KiB a follow catching up, handed up to
256 KiB by each socket read, paused and resumed its socket several times per read, and a rebuild
spent 5 to 10% more CPU an event (A/B over 200,000 events; docs/architecture.md, Read models).
A read takes what has come, so small traffic reads as before. A connection upgraded to TLS
keeps the wide reads but gets asyncio's default reader (nats-py makes a new one for it)."""


class WideTransport(TcpTransport):
    """nats-py's TCP transport, reading up to `READ_BUFFER` at a time: nats-py has no option for
    it, only a module constant that every client of the process would share."""

    async def connect(self, uri: ParseResult, buffer_size: int, connect_timeout: int) -> None:
        await super().connect(uri, max(buffer_size, READ_BUFFER), connect_timeout)

    async def read(self, buffer_size: int) -> bytes:
        data: bytes = await super().read(max(buffer_size, READ_BUFFER))
        return data


class Receiver(Protocol):
    """A follow, as the connection hands it its messages."""

    def receive(self, subject: bytes, reply: bytes, data: bytes) -> Awaitable[object] | None:
        """Takes a message; what it returns, if anything, is awaited before the next one."""
        ...

    def keep_flow_reply(self, reply: str) -> bool:
        """True when the follow answers this flow-control request itself, later."""
        ...


class FollowingClient(Client):
    def __init__(self) -> None:
        super().__init__()
        self.followings: dict[Subscription, Receiver] = {}
        self._ps = FollowingParser(self)
        self.connected_with: dict[str, Any] = {}
        """The options `connected` was given."""

    async def _connect_to_server(self, s: Srv) -> None:
        """nats-py's own (tests/unit/test_wide_transport.py pins the version it copies), but for
        the transport: a TCP connection's reads wide, a websocket's stays nats-py's. The
        transport is made at the first connect and every reconnect reuses it."""
        if s.uri.scheme not in ("nats", "tls"):
            await super()._connect_to_server(s)
            return
        s.last_attempt = time.monotonic()
        if not self._transport:
            self._transport = WideTransport()  # type: ignore[no-untyped-call]
        await self._transport.connect(s.uri, READ_BUFFER, self.options["connect_timeout"])

    async def sibling(self, name: str) -> FollowingClient:
        """Another connection with the same credentials, to the server this one is on first (so
        both start on one node of a cluster; after a failover each goes its own way), for round
        trips that must not queue behind a follow on this one: a reply comes after every message
        the server sent before it, and a follow catching up has a window of them in flight."""
        options = self.connected_with | {"name": name}
        here = self.connected_url
        if here is not None:
            listed = options.get("servers") or []
            listed = [listed] if isinstance(listed, str) else listed
            others = [s for s in listed if s != here.geturl()]
            options |= {"servers": [here.geturl(), *others], "dont_randomize": True}
        return await connected(**options)


async def connected(**options: Any) -> FollowingClient:
    """`nats.connect` for a `FollowingClient`: the same options, as nats-py takes them."""
    client = FollowingClient()
    client.connected_with = options
    await client.connect(**options)
    return client


async def connect(url: str, name: str, login: Login | None = None) -> Client:
    """`login` None: the URL carries the credential, or the server asks for none."""
    return await connected(
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
