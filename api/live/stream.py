"""One client's stream: its page's frames from the channel and, on a job page, the job's log,
merged into SSE messages whose id says where the client now stands (`api.live.cursor`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from api.live.cursor import Cursor
from api.live.hub import Frame, Membership, Positions
from api.live.panels import data_lines, log_end, log_lines
from domain.job_status import JobStatus
from infra.log_follow import EXPIRED, Expired, Item
from infra.logs import LogChunk

log = logging.getLogger(__name__)
RETRY = b"retry: 2000\n\n"
"""How long a browser waits before reconnecting, once per connection."""
KEEPALIVE = b": keepalive\n\n"
ENDED = b"event: ended\ndata: login\n\n"
"""The caller may no longer read: the page closes its stream for good and goes to log in."""
Pumped = Frame | Item
LOG_BACKLOG = 256
"""Log items a job page's stream holds for a client that lags; the follow waits past that."""


@dataclass(frozen=True)
class Watch:
    membership: Membership
    cursor: Cursor
    runner: Positions
    keepalive_s: float
    still_allowed: Callable[[], Awaitable[bool]]
    log: AsyncIterator[Item] | None = None
    """The job's log after `cursor.log`, on a job page."""


async def stream(watch: Watch) -> AsyncGenerator[bytes]:
    try:
        yield RETRY
        async for message in _messages(watch):
            yield message
    finally:
        watch.membership.leave()


async def _messages(watch: Watch) -> AsyncIterator[bytes]:
    channel = watch.membership.channel
    frame = channel.frame
    assert frame is not None
    cursor = watch.cursor
    seen: int | None = None
    """The version of the panels the client holds, when known: it then takes only changes."""
    if cursor.state < frame.settled or cursor.state > watch.runner.position:
        seen, cursor = frame.version, Cursor(frame.seq, cursor.log)
        yield _message(cursor, watch.log is not None, frame.full)
    source = _Source(watch, frame.version)
    loop = asyncio.get_running_loop()
    check_at = loop.time() + watch.keepalive_s
    try:
        while True:
            items = await source.next(check_at - loop.time())
            if loop.time() >= check_at:
                if not await watch.still_allowed():
                    yield ENDED
                    return
                check_at = loop.time() + watch.keepalive_s
            if source.ended:
                yield ENDED
                return
            if not items:
                yield KEEPALIVE
                continue
            data, seen, cursor = _batch(items, seen, cursor)
            if data:
                yield _message(cursor, watch.log is not None, data)
            if any(isinstance(item, Expired) for item in items):
                return  # the client reconnects, from where this message left it
    finally:
        source.close()


class _Source:
    """What a client waits for: its channel's next frame and, on a job page, its log. Without a
    log it waits on the channel itself, so a fan-out to many clients costs no task switch more
    per client; with one, two tasks pump them (two waits need tasks): the frame pump keeps only
    the newest frame, a cursor like the channel itself, and the log pump waits when the client
    lags `LOG_BACKLOG` items behind."""

    def __init__(self, watch: Watch, version: int) -> None:
        self.member = watch.membership.member
        self.channel = watch.membership.channel
        self.version = version
        self.ended = False
        """The page refused the member's credentials: its stream ends."""
        self.latest: Frame | None = None
        self.log: asyncio.Queue[Item] = asyncio.Queue(LOG_BACKLOG)
        self.woken = asyncio.Event()
        self.pumps: list[asyncio.Task[None]] = []
        if watch.log is not None:
            self.pumps = [
                asyncio.create_task(self._frames()),
                asyncio.create_task(self._follow(watch.log)),
            ]

    async def next(self, wait_s: float) -> list[Pumped]:
        """Everything waiting, or what arrives first within `wait_s`; [] when nothing does."""
        try:
            async with asyncio.timeout(max(0.0, wait_s)):
                if not self.pumps:
                    frame = self._take(await self.channel.after(self.version, self.member))
                    return [] if frame is None else [frame]
                await self.woken.wait()
        except TimeoutError:
            return []
        self.woken.clear()
        items: list[Pumped] = []
        while not self.log.empty():
            items.append(self.log.get_nowait())
        if self.latest is not None:
            items.append(self.latest)
            self.latest = None
        return items

    def _take(self, frame: Frame | None) -> Frame | None:
        if frame is None:
            self.ended = True
        else:
            self.version = frame.version
        return frame

    async def _frames(self) -> None:
        while not self.ended:
            self.latest = self._take(await self.channel.after(self.version, self.member))
            self.woken.set()

    async def _follow(self, items: AsyncIterator[Item]) -> None:
        try:
            async for item in items:
                if item is not None:
                    await self.log.put(item)
                    self.woken.set()
        except Exception:  # the stream ends; the client resumes the log where it stood
            log.exception("following a log for a live page failed")
            await self.log.put(EXPIRED)
            self.woken.set()

    def close(self) -> None:
        for pump in self.pumps:
            pump.cancel()


def _batch(
    items: list[Pumped], seen: int | None, cursor: Cursor
) -> tuple[bytes, int | None, Cursor]:
    """What the items change, in one message: the newest frame (only its changes when the client
    holds the version before), the log's new chunks, the job's end."""
    data = b""
    frames = [item for item in items if isinstance(item, Frame)]
    if frames:
        frame = frames[-1]
        data += frame.delta if seen == frame.version - 1 else frame.full
        seen, cursor = frame.version, Cursor(frame.seq, cursor.log)
    chunks = [item for item in items if isinstance(item, LogChunk)]
    if chunks:
        data += data_lines(log_lines(chunks))
        cursor = Cursor(cursor.state, chunks[-1].seq)
    for item in items:
        if isinstance(item, JobStatus):
            data += data_lines(log_end(item.value))
    return data, seen, cursor


def _message(cursor: Cursor, with_log: bool, data: bytes) -> bytes:
    return b"id: %s\nevent: update\n%s\n" % (cursor.text(with_log).encode(), data)
