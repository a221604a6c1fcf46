"""Request bodies over the limit get a 413 problem, like every other error.

Ours rather than FastAPI's `max_body_size`: Starlette answers that one in plain text from outside
the exception handlers."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from domain.values import is_sequence_number


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"the request body exceeds {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if is_sequence_number(declared) and int(declared) > self.max_bytes:
            # refused before a byte is read or the route runs
            answer = problem(Request(scope), 413, "content_too_large", self.detail)
            await answer(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A body without a length is counted as the route reads it; the exception reaches
            # the handlers, which answer with the 413 problem.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self.detail)
            return message

        await self.app(scope, counted, send)
