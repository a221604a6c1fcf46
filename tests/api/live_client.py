"""A live stream read in process: the app called as an ASGI server would, its messages parsed as
they come, and a disconnect when the test is done. httpx's in-process transport waits for a
response to end, which a live stream never does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.types import Message, Scope

DEADLINE_S = 10.0
"""How long a test waits for a message, never a measure of speed."""


class Stream:
    def __init__(self) -> None:
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.messages: list[dict[str, str]] = []
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._buffer = ""
        self.closed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status.set_result(message["status"])
        elif message["type"] == "http.response.body":
            await self._chunks.put(message.get("body", b""))
            if not message.get("more_body", False):
                self.closed = True
                await self._chunks.put(b"")

    async def until(self, done: Callable[[list[dict[str, str]]], bool]) -> list[dict[str, str]]:
        """The messages (`event` and `id` included) once `done(messages)` holds."""
        async with asyncio.timeout(DEADLINE_S):
            while not done(self.messages):
                chunk = await self._chunks.get()
                if not chunk and self.closed:
                    raise AssertionError(f"the stream ended: {self.messages}")
                self._buffer += chunk.decode()
                while "\n\n" in self._buffer:
                    block, self._buffer = self._buffer.split("\n\n", 1)
                    fields: dict[str, str] = {}
                    for line in block.split("\n"):
                        if line and not line.startswith(":"):
                            name, _, value = line.partition(":")
                            fields[name] = fields.get(name, "") + value.removeprefix(" ")
                    if "data" in fields or "event" in fields:
                        self.messages.append(fields)
        return self.messages


@asynccontextmanager
async def live(app: FastAPI, path: str, token: str, **headers: str) -> AsyncIterator[Stream]:
    """`path` with its query; the stream's answer status is `await stream.status`."""
    stream = Stream()
    gone = asyncio.Event()
    asked = False
    raw, _, query = path.partition("?")
    sent = {"host": "jetdeck", "authorization": f"Bearer {token}", **headers}
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 1),
        "server": ("jetdeck", 80),
    }

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    served = asyncio.create_task(app(scope, receive, stream.send))
    try:
        yield stream
    finally:
        gone.set()
        try:
            async with asyncio.timeout(DEADLINE_S):
                await served
        except TimeoutError:
            served.cancel()
            with suppress(asyncio.CancelledError):
                await served
