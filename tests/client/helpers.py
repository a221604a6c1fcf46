"""One test body drives either client: `done` awaits an answer only when it is awaitable."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import httpx

from client import AsyncJetDeck, JetDeck
from domain.values import GitContext

T = TypeVar("T")
Deck = JetDeck | AsyncJetDeck
GIT = GitContext(
    repo="org/repo",
    ref="main",
    commit_sha="abc123def456",
    commit_message="Add feature",
    author="alice@example.com",
)


async def done(answer: T | Awaitable[T]) -> T:
    if inspect.isawaitable(answer):
        return await answer
    return answer


async def every(items: Iterator[T] | AsyncIterator[T]) -> list[T]:
    if isinstance(items, Iterator):
        return list(items)
    return [item async for item in items]


class Counting(httpx.BaseTransport):
    """Counts the requests a blocking client sends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self.inner.handle_request(request)
