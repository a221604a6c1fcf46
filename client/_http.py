"""One HTTP call described as data, and what every call shares: the idempotency key, retries with
backoff, and the server's problem answers turned into `ApiError`."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from uuid import uuid4

import httpx

T = TypeVar("T")
KEY_HEADER = "Idempotency-Key"
RETRY_STATUSES = frozenset({503})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ClientError(Exception):
    """Anything the client raises."""


class ApiError(ClientError):
    """The server's RFC 9457 problem answer; branch on `error`, JetDeck's stable code."""

    def __init__(self, status: int, error: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        self.problem = dict(problem)

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {"detail": response.text}
        error = str(problem.get("error") or response.reason_phrase.lower().replace(" ", "_"))
        return cls(response.status_code, error, str(problem.get("detail", "")), problem)


class UnreachableError(ClientError):
    """The server could not be reached (or did not answer) within every attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with capped exponential backoff and jitter; a server's `Retry-After`
    is a floor, still capped, so a test or a hurried caller can keep waits short."""

    attempts: int = 5
    base_s: float = 0.25
    cap_s: float = 8.0
    jitter: float = 0.5

    def delay(self, attempt: int, retry_after_s: float = 0.0) -> float:
        backoff = self.base_s * 2.0**attempt * (1 - self.jitter * random.random())
        return min(self.cap_s, max(backoff, retry_after_s))


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request to make and how to read its answer; the sync and async clients run the same."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    form: Mapping[str, str] | None = None
    """A form body (`application/x-www-form-urlencoded`), sent instead of `json`."""
    timeout_s: float | None = None
    """This call's own timeout, for one the server may hold open (a claim waiting for work)."""
    repeatable: bool = True
    """False for a call whose repeat is not the same call (a claim hands out another job): it is
    sent again only when the first never reached the server."""

    def at(self, cursor: int) -> Call[T]:
        return replace(self, params={**self.params, "cursor": cursor})

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """Built once and resent as is, so every retry of a write carries the same key."""
        headers = {}
        if self.method not in SAFE_METHODS:
            headers[KEY_HEADER] = self.idempotency_key or uuid4().hex
        params = {k: v for k, v in self.params.items() if v is not None}
        timeout = httpx.USE_CLIENT_DEFAULT if self.timeout_s is None else self.timeout_s
        return http.build_request(
            self.method,
            self.path,
            json=self.json,
            data=self.form,
            params=params,
            headers=headers,
            timeout=timeout,
        )


Outcome = httpx.Response | httpx.TransportError


def wait_before_retry(
    policy: RetryPolicy, attempt: int, outcome: Outcome, repeatable: bool = True
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when `outcome` is final."""
    if attempt + 1 >= policy.attempts:
        return None
    if not repeatable:
        return policy.delay(attempt) if isinstance(outcome, httpx.ConnectError) else None
    if isinstance(outcome, httpx.TransportError):
        return policy.delay(attempt)
    if outcome.status_code in RETRY_STATUSES:
        return policy.delay(attempt, _retry_after_s(outcome))
    return None


def settle(call: Call[T], outcome: Outcome) -> T:
    """The parsed answer, or the error it stands for."""
    if isinstance(outcome, httpx.TransportError):
        raise UnreachableError(f"{call.method} {call.path}: {outcome!r}") from outcome
    if outcome.is_error:
        raise ApiError.of(outcome)
    return call.parse(outcome)


def _retry_after_s(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 0.0
