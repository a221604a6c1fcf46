"""A JetDeck process's connection reads what has come in one read, not nats-py's 32 KiB at a
time: a follow catching up spent 5 to 10% more CPU an event pausing and resuming its socket."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from importlib.metadata import version
from urllib.parse import urlparse

from nats.aio.client import Client

from infra.connection import READ_BUFFER, WideTransport

NATS_PY_READ = 32 * 1024
NATS_PY_CONNECT_TO_SERVER = "1356d992325fde9f38425f370b8380697a5e93dde73fb5f8f79e14a64cbb7b6d"
"""SHA-256 of nats-py's `Client._connect_to_server` as of nats-py 2.16.0."""


async def test_a_wide_transport_hands_on_what_has_come_in_one_read() -> None:
    payload = bytes(range(256)) * 2048  # 512 KiB, sent at once
    sent = asyncio.Event()

    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        sent.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = WideTransport()  # type: ignore[no-untyped-call]
    try:
        await transport.connect(urlparse(f"nats://127.0.0.1:{port}"), NATS_PY_READ, 5)
        async with asyncio.timeout(10):
            await sent.wait()
        # Holding all of it unread, the reader still reads its socket: with nats-py's limit it
        # would have stopped at twice 32 KiB.
        writer = transport._io_writer
        assert writer is not None
        assert isinstance(writer.transport, asyncio.Transport)
        assert writer.transport.is_reading()
        chunks = []
        while chunk := await transport.read(NATS_PY_READ):
            chunks.append(chunk)
    finally:
        if transport._io_writer is not None:
            transport._io_writer.close()
            await transport._io_writer.wait_closed()
        server.close()
        await server.wait_closed()
    assert b"".join(chunks) == payload
    assert NATS_PY_READ * 2 < max(map(len, chunks)) <= READ_BUFFER


def test_the_connect_a_following_client_replaces_is_the_one_it_was_written_against() -> None:
    """`FollowingClient._connect_to_server` stands in for nats-py's own, line for line but for
    the transport it makes: a nats-py release that changes the original must be read again."""
    source = inspect.getsource(Client._connect_to_server).encode()
    assert hashlib.sha256(source).hexdigest() == NATS_PY_CONNECT_TO_SERVER, version("nats-py")
