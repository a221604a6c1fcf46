"""The asyncio client."""

from __future__ import annotations

import asyncio
from itertools import count
from types import TracebackType
from typing import TypeVar

import httpx

from client._base import DEFAULT_TIMEOUT_S, Operations, auth_headers
from client._http import Call, Outcome, RetryPolicy, settle, wait_before_retry
from client._ops import AsyncRunner

T = TypeVar("T")


class AsyncJetDeck(AsyncRunner, Operations):
    """`AsyncJetDeck(url, token)`: every operation is awaited; lists are async iterators."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=auth_headers(token), timeout=timeout_s, transport=transport
        )

    def set_token(self, token: str) -> None:
        """Calls from now on carry `token` (an agent's renewed one, say)."""
        self.http.headers.update(auth_headers(token))

    async def run(self, call: Call[T]) -> T:
        request = call.request(self.http)
        for attempt in count():
            outcome: Outcome
            try:
                outcome = await self.http.send(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = wait_before_retry(self.retry, attempt, outcome, call.repeatable)
            if delay is None:
                return settle(call, outcome)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncJetDeck:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
