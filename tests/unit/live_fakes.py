"""A page and read models for the live hub's tests, in memory: the page shows one panel whose
text the test sets, and refuses the credentials the test names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from api.live.hub import Headers, PageError
from domain.errors import UnavailableError

DEADLINE_S = 5.0
"""How long a test waits for what must happen, never a measure of speed."""


class Runner:
    """Read models whose position the test moves."""

    def __init__(self) -> None:
        self.position = 0
        self._moved = asyncio.Event()

    def advance(self) -> None:
        self.position += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait_for(self, seq: int, timeout_s: float) -> None:
        while self.position < seq:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._moved.wait()
            except TimeoutError:
                raise UnavailableError("not there yet") from None


def credentials(name: str) -> Headers:
    return [(b"authorization", name.encode())]


class Page:
    """`text` in the panel `#p`; `during` runs inside a render, as if events were read meanwhile."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.text = "first"
        self.refused: set[str] = set()
        self.failing: Exception | None = None
        self.rendered_for: list[str] = []
        self.during: Callable[[], None] | None = None
        self.finished = 0
        self._finished = asyncio.Event()

    async def render(self, headers: Headers) -> str:
        who = dict(headers)[b"authorization"].decode()
        self.rendered_for.append(who)
        try:
            await asyncio.sleep(0)  # a real render awaits: others run meanwhile
            if self.during is not None:
                self.during()
            if self.failing is not None:
                raise self.failing
            if who in self.refused:
                raise PageError(403)
            return f'<main><section id="p" class="panel">{self.text}</section></main>'
        finally:
            self.finished += 1
            finished, self._finished = self._finished, asyncio.Event()
            finished.set()

    async def renders(self, count: int) -> None:
        """Once `count` renders have finished, whatever their outcome."""
        async with asyncio.timeout(DEADLINE_S):
            while self.finished < count:
                await self._finished.wait()
