"""Fan-out: one channel per page, parameters and viewer renders the page once per change of the
read models, at most once per `live_interval_s`, and every client watching it takes the same
bytes. A client is a cursor on its channel's latest frame, never a queue: a slow one skips to
the newest state instead of piling up a backlog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from api.live.panels import cut, data_lines, joined
from domain.errors import UnavailableError

log = logging.getLogger(__name__)
Headers = list[tuple[bytes, bytes]]
Render = Callable[[Headers], Awaitable[str]]
"""The page's HTML as the read models stand when it is called, for a caller with these
credentials; `PageError` when the page does not answer them with a page."""
IDLE_WAIT_S = 3600.0
"""How long one wait for the next event lasts before it simply starts again."""


class PageError(Exception):
    """The page answered these credentials with something other than the page: 303 to the login
    page for credentials that stopped working, 403 for a page the caller may not read, 404 for
    an unknown job. Their holder may not, or may no longer, watch it."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the page answered {status}")
        self.status = status


class Positions(Protocol):
    """What the hub needs of the read models: where they stand, and a wait for a later place."""

    @property
    def position(self) -> int: ...

    async def wait_for(self, seq: int, timeout_s: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    """The read models' position read just before the render: its content is at least this new."""
    settled: int
    """Their position once the render was done: the render may show changes up to here, so a
    client whose page shows less than this takes the whole frame."""
    version: int
    """Goes up only when a panel changed; a render that changes nothing keeps it, wakes nobody."""
    panels: dict[str, str]
    full: bytes
    """Every panel, as SSE `data:` lines."""
    delta: bytes
    """The panels that differ from the previous version's."""


@dataclass(eq=False)
class Member:
    """One client's place on a channel, with the credentials its renders use."""

    headers: Headers
    ended: bool = False
    """Set when the page refused this member's credentials: its stream ends."""


@dataclass
class Channel:
    render: Render
    runner: Positions
    interval_s: float
    frame: Frame | None = None
    members: dict[Member, None] = field(default_factory=dict)
    """In order of joining: a render uses the newest member's credentials."""
    _published: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def admit(self, member: Member) -> Frame:
        """Renders the page with the joiner's own credentials before it sees any frame, so a
        refusal (a page it may not read, an unknown job) is its answer; the render is also the
        channel's frame when it is the newest."""
        await self._render_as(member)
        if self._task is None:
            self._task = asyncio.create_task(self._follow())
        assert self.frame is not None
        return self.frame

    async def after(self, version: int, member: Member) -> Frame | None:
        """The first frame of a version other than `version`; None once `member` is ended."""
        while not member.ended and (self.frame is None or self.frame.version == version):
            await self._published.wait()
        return None if member.ended else self.frame

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        tried = self.frame.seq if self.frame else 0
        rendered_at = loop.time()
        while True:
            await _moved_past(self.runner, tried)
            await asyncio.sleep(rendered_at + self.interval_s - loop.time())
            tried = self.runner.position
            rendered_at = loop.time()
            try:
                await self._refresh()
            except Exception:  # a failed render leaves the last frame; the next change retries
                log.exception("live page render at %d failed", tried)

    async def _refresh(self) -> None:
        """With the newest member's credentials; one the page refuses is ended, and the next
        newest member's are tried, so one logout leaves the others their updates."""
        while self.members:
            member = next(reversed(self.members))
            try:
                await self._render_as(member)
            except PageError as refused:  # expected: a logout, a revoked token, a lost role
                log.info("live page refused a member (%d): its stream ends", refused.status)
                self._end(member)
            else:
                return

    async def _render_as(self, member: Member) -> None:
        seq = self.runner.position
        panels = cut(await self.render(member.headers))
        self._publish(seq, self.runner.position, panels)

    def _publish(self, seq: int, settled: int, panels: dict[str, str]) -> None:
        last = self.frame
        if last is None:
            full = data_lines(joined(panels))
            self.frame = Frame(seq, settled, 1, panels, full, full)
            self._wake()
            return
        if seq < last.seq:
            return  # a render that began later finished first: its frame is the newer
        changed = [k for k, v in panels.items() if last.panels.get(k) != v]
        if not changed:
            self.frame = Frame(seq, settled, last.version, last.panels, last.full, last.delta)
            return
        full, delta = data_lines(joined(panels)), data_lines(joined(panels, changed))
        self.frame = Frame(seq, settled, last.version + 1, panels, full, delta)
        self._wake()

    def _end(self, member: Member) -> None:
        self.members.pop(member, None)
        member.ended = True
        self._wake()

    def _wake(self) -> None:
        woken, self._published = self._published, asyncio.Event()
        woken.set()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _moved_past(runner: Positions, seq: int) -> None:
    while True:
        try:
            await runner.wait_for(seq + 1, IDLE_WAIT_S)
        except UnavailableError:
            continue
        return


@dataclass
class Membership:
    channel: Channel
    member: Member
    leave: Callable[[], None]
    """Idempotent: both the stream's end and the response's end call it."""


class Hub:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.channels: dict[tuple[Hashable, ...], Channel] = {}

    async def join(
        self, key: tuple[Hashable, ...], runner: Positions, render: Render, headers: Headers
    ) -> Membership:
        """A place on the channel for `key`, once the page answered the joiner's own
        credentials; the last member to leave stops it. A refused or failed render raises,
        leaving nothing behind. `key` must hold everything the page's answer depends on: the
        path, the query and the caller's whole identity (its roles and scope included)."""
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(render, runner, self.interval_s)
        member = Member(headers)
        channel.members[member] = None

        def leave() -> None:
            channel.members.pop(member, None)
            if channel.members or self.channels.get(key) is not channel:
                return
            del self.channels[key]
            channel.stop()

        try:
            await channel.admit(member)
        except BaseException:
            leave()
            raise
        return Membership(channel, member, leave)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.stop()
        self.channels.clear()
