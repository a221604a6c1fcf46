"""Where the CLI connects, and the raw reads it needs from EVENTS (with the stored headers the
event store's own reads drop: the message id and the stream time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import nats
import orjson
from nats.aio.client import Client

from infra.connection import connected
from infra.layout import EVENT_SUBJECTS, EVENTS
from infra.nats_auth import RUNTIME
from infra.settings import Login, Settings, split_servers

BATCH = 1000
READ_TIMEOUT_S = 10.0


class CliError(Exception):
    """A failure the CLI reports as one line, with its exit code (2: usage or connection)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Target(NamedTuple):
    url: str
    login: Login | None

    @property
    def shown(self) -> str:
        """The servers without any credential the URL carries: what may be printed."""
        return ",".join(_without_login(url) for url in split_servers(self.url))


def _without_login(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else url


def resolve(nats_url: str | None, data_dir: Path) -> Target:
    """`--nats-url`, else JETDECK_NATS_URL, else the embedded server with the runtime password
    `make run` wrote under the data directory."""
    settings = Settings()
    url = nats_url or settings.nats_url
    if url is not None:
        return Target(url, settings.nats_login)
    password = data_dir / "nats" / "auth" / f"{RUNTIME}.password"
    login = Login(RUNTIME, password.read_text().strip()) if password.exists() else None
    return Target(settings.server_url, login)


async def open_link(target: Target) -> Client:
    async def quiet(_: Exception) -> None:
        """The failure surfaces as the connect's own exception, reported once."""

    try:
        return await asyncio.wait_for(
            connected(
                servers=split_servers(target.url),
                name="jetdeck-cli",
                user=None if target.login is None else target.login.user,
                password=None if target.login is None else target.login.password,
                connect_timeout=3,
                max_reconnect_attempts=1,  # 0 never gives up in nats-py 2.16
                reconnect_time_wait=0.2,
                error_cb=quiet,
            ),
            timeout=15,
        )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise CliError(
            f"cannot connect to NATS at {target.shown}: {exc or type(exc).__name__}"
        ) from exc


class Stored(NamedTuple):
    seq: int
    subject: str
    stream_time: str
    """The server's timestamp (RFC 3339, nanoseconds), when the message was stored."""
    msg_id: str | None
    payload: bytes


async def last_seq(nc: Client) -> int:
    info = await nc.jetstream().stream_info(EVENTS)
    return info.state.last_seq


async def event_count(nc: Client) -> int:
    info = await nc.jetstream().stream_info(EVENTS)
    return info.state.messages


async def seq_at(nc: Client, when: datetime) -> int:
    """The first sequence stored at or after `when`; past the end when nothing is."""
    request = {"start_time": when.isoformat()}
    reply = await nc.request(f"$JS.API.DIRECT.GET.{EVENTS}", orjson.dumps(request), 5)
    headers = reply.headers or {}
    if "Nats-Sequence" in headers:
        return int(headers["Nats-Sequence"])
    return await last_seq(nc) + 1


async def read_events(
    nc: Client, start: int = 1, stop: int | None = None, subject: str = EVENT_SUBJECTS
) -> AsyncIterator[Stored]:
    """Every message on `subject` from `start` up to `stop` (inclusive), in order."""
    while stop is None or start <= stop:
        page = [m async for m in _page(nc, start, subject)]
        for stored in page:
            if stop is not None and stored.seq > stop:
                return
            yield stored
        if not page:
            return
        start = page[-1].seq + 1


async def _page(nc: Client, start: int, subject: str) -> AsyncIterator[Stored]:
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    request = {"seq": start, "next_by_subj": subject, "batch": BATCH}
    try:
        await nc.publish(f"$JS.API.DIRECT.GET.{EVENTS}", orjson.dumps(request), reply=inbox)
        while True:
            msg = await sub.next_msg(READ_TIMEOUT_S)
            headers = msg.headers or {}
            if "Status" in headers:
                if headers["Status"] not in ("204", "404"):
                    raise CliError(f"EVENTS answered {headers['Status']} to a read")
                return
            yield Stored(
                int(headers["Nats-Sequence"]),
                headers["Nats-Subject"],
                headers.get("Nats-Time-Stamp", ""),
                headers.get("Nats-Msg-Id"),
                msg.data,
            )
    finally:
        await sub.unsubscribe()
