"""A live page renders by asking the pages' own router for the page, in process, with the
credentials of a client watching it: the stream shows what a reload would, through the same
route, dependencies and template, and no page needs code of its own to be live."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Scope

from api.live.hub import Headers, PageError

FORWARDED = frozenset({b"host", b"cookie", b"authorization"})
"""Who is asking, and the host the page's links name; nothing else of the stream's request."""


@dataclass(frozen=True)
class PageRequest:
    """A GET of one page, as the pages' router takes it."""

    base: Scope
    """The stream's own request, for its app, server and client."""
    router: ASGIApp
    path: str
    query: str

    async def get(self, headers: Headers) -> str:
        scope: Scope = {
            **{k: self.base[k] for k in ("type", "asgi", "http_version", "scheme", "server")},
            "app": self.base["app"],
            "client": self.base.get("client"),
            "method": "GET",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": self.query.encode(),
            "headers": [(k, v) for k, v in headers if k in FORWARDED],
        }
        status = 0
        body: list[bytes] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        async with AsyncExitStack() as files:  # what FastAPI's own middleware gives a request
            scope["fastapi_middleware_astack"] = files
            await self.router(scope, receive, send)
        if status != 200:
            raise PageError(status)
        return b"".join(body).decode()
