"""The blocking client."""

from __future__ import annotations

import time
from itertools import count
from types import TracebackType
from typing import TypeVar

import httpx

from client._base import DEFAULT_TIMEOUT_S, Operations, auth_headers
from client._http import Call, Outcome, RetryPolicy, settle, wait_before_retry
from client._ops import SyncRunner

T = TypeVar("T")


class JetDeck(SyncRunner, Operations):
    """`JetDeck(url, token)`: every operation answers its result or raises `ClientError`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.http = httpx.Client(
            base_url=base_url, headers=auth_headers(token), timeout=timeout_s, transport=transport
        )

    def set_token(self, token: str) -> None:
        """Calls from now on carry `token` (an agent's renewed one, say)."""
        self.http.headers.update(auth_headers(token))

    def run(self, call: Call[T]) -> T:
        request = call.request(self.http)
        for attempt in count():
            outcome: Outcome
            try:
                outcome = self.http.send(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = wait_before_retry(self.retry, attempt, outcome, call.repeatable)
            if delay is None:
                return settle(call, outcome)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> JetDeck:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
