"""Ship a job's output to its log: buffered, sent in order every `flush_s` or `max_lines` lines.

One batch is in flight at a time, so the log keeps the order of the output. A batch carries the
offset of its first chunk, so a batch sent again after a lost answer is stored once. A refused
lease ends the shipping for good; a transient failure keeps the batch for the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson

from agent.api import LeaseLostError, TransientError
from client import ApiError
from wire.logs import MAX_CHUNKS

log = logging.getLogger(__name__)
Send = Callable[[list[dict[str, str]], int], Awaitable[None]]
MAX_REQUEST_BYTES = 512 * 1024
"""Half the API's default body limit, so JSON overhead never tips a batch over it."""
MAX_BACKOFF_S = 5.0
MAX_BUFFERED = 100_000
"""Chunks kept while the API is unreachable; later output is dropped (and counted)."""


class LogShipper:
    def __init__(
        self,
        send: Send,
        on_lease_lost: Callable[[], None],
        flush_s: float = 0.2,
        max_lines: int = 64,
    ) -> None:
        self._send = send
        self._on_lease_lost = on_lease_lost
        self.flush_s = flush_s
        self.max_lines = max_lines
        self._buffer: list[dict[str, str]] = []
        self._offset = 0
        self._due = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.lost = False
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def add(self, stream: str, text: str) -> None:
        if self.lost:
            return
        if len(self._buffer) >= MAX_BUFFERED:
            self.dropped += 1
            return
        self._buffer.append({"stream": stream, "text": text})
        if len(self._buffer) >= self.max_lines:
            self._due.set()

    async def close(self, attempts: int = 5) -> None:
        """Stop the timer and send what is left, trying `attempts` times at most."""
        self._closing = True
        self._due.set()
        self._closed.set()
        if self._task is not None:
            await self._task
        for attempt in range(attempts):
            if self.lost or not self._buffer:
                break
            if not await self._flush_once():
                await asyncio.sleep(0.5 * 2**attempt)
        if self._buffer and not self.lost:
            log.error("%d log chunks could not be sent", len(self._buffer))
        if self.dropped:
            log.error("%d log chunks were dropped while the API was unreachable", self.dropped)

    async def _run(self) -> None:
        backoff = 0.0
        while not self._closing and not self.lost:
            await self._wait(self._closed if backoff else self._due, backoff or self.flush_s)
            self._due.clear()
            sent = await self._flush_ready()
            backoff = 0.0 if sent else min(max(2 * backoff, self.flush_s), MAX_BACKOFF_S)

    @staticmethod
    async def _wait(event: asyncio.Event, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    async def _flush_ready(self) -> bool:
        """Send full batches while there are any, then what is left; False on a failed send."""
        while self._buffer and not self.lost:
            if not await self._flush_once():
                return False
            if len(self._buffer) < self.max_lines:
                break
        return True

    def _batch(self) -> list[dict[str, str]]:
        size = 0
        for n, chunk in enumerate(self._buffer[:MAX_CHUNKS]):
            size += len(orjson.dumps(chunk))
            if size > MAX_REQUEST_BYTES and n > 0:
                return self._buffer[:n]
        return self._buffer[:MAX_CHUNKS]

    async def _flush_once(self) -> bool:
        """Send the next batch; False when it should be tried again later."""
        batch = self._batch()
        try:
            await self._send(batch, self._offset)
        except TransientError as exc:
            log.warning("log batch not sent yet: %s", exc)
            return False
        except LeaseLostError:
            self.lost = True
            self._buffer.clear()
            self._on_lease_lost()
            return False
        except ApiError as exc:  # the API refused the batch itself: keep going without it
            log.error("log batch of %d chunks refused: %s", len(batch), exc)
        del self._buffer[: len(batch)]
        self._offset += len(batch)
        return True
