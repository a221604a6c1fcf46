"""The API replicas as one client, as a load balancer in front of them would be: a call goes to
the next replica when one cannot answer (no connection, or 503), always with the same
idempotency key, and every attempt is noted with its times and outcome."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import TypeVar
from uuid import uuid4

from client import ApiError, AsyncJetDeck, RetryPolicy, UnreachableError
from client._base import Operations
from client._http import SAFE_METHODS, Call
from client._ops import AsyncRunner

T = TypeVar("T")
PATIENCE_S = 90.0
"""How long a call keeps trying the replicas before it gives up; a deadline, not a measure."""
BETWEEN_S = 0.1


GATEWAYS = -1
"""The replica of an attempt on the native path: which gateway answered is the server's choice."""


@dataclass(frozen=True)
class Attempt:
    replica: int
    write: bool
    """A call that records an event: not a claim, which may answer 204 without one."""
    start: float
    end: float
    answered: bool
    """Anything but no connection, no answer or a 503."""


@dataclass
class Ledger:
    attempts: list[Attempt] = field(default_factory=list)

    def note(self, replica: int, write: bool, start: float, answered: bool) -> None:
        self.attempts.append(Attempt(replica, write, start, time.monotonic(), answered))

    def after(self, moment: float, replica: int | None = None) -> list[Attempt]:
        """Writes sent after `moment`, to `replica` or to any."""
        return [
            a
            for a in self.attempts
            if a.write and a.start >= moment and replica in (None, a.replica)
        ]

    def answered_after(self, moment: float, replica: int | None = None) -> list[Attempt]:
        return [a for a in self.after(moment, replica) if a.answered]

    def unanswered_since(self, moment: float) -> list[Attempt]:
        """Calls of any kind that ended after `moment` with no answer or a 503."""
        return [a for a in self.attempts if a.end >= moment and not a.answered]

    def outage_after(self, moment: float, replica: int | None = None) -> float:
        """Seconds from `moment` to the answer of the first write sent after it."""
        return min(a.end for a in self.answered_after(moment, replica)) - moment


class Replicas(AsyncRunner, Operations):
    def __init__(self, urls: list[str], token: str, ledger: Ledger, home: int = 0) -> None:
        once = RetryPolicy(attempts=1)
        self.clients = [AsyncJetDeck(url, token, retry=once, timeout_s=30) for url in urls]
        self.ledger = ledger
        self.home = home % len(urls)

    def set_token(self, token: str) -> None:
        for client in self.clients:
            client.set_token(token)

    async def run(self, call: Call[T]) -> T:
        if call.method not in SAFE_METHODS and call.idempotency_key is None:
            call = replace(call, idempotency_key=uuid4().hex)
        deadline = time.monotonic() + PATIENCE_S
        while True:
            start = time.monotonic()
            try:
                result = await self.clients[self.home].run(call)
            except UnreachableError:
                self._note(call, start, answered=False)
            except ApiError as exc:
                self._note(call, start, answered=exc.status != 503)
                if exc.status != 503:
                    raise
            else:
                self._note(call, start, answered=True)
                return result
            if time.monotonic() > deadline:
                raise UnreachableError(f"{call.method} {call.path}: no replica answered")
            self.home = (self.home + 1) % len(self.clients)  # and stays there, as a balancer would
            await asyncio.sleep(BETWEEN_S)

    def _note(self, call: Call[T], start: float, answered: bool) -> None:
        self.ledger.note(self.home, not call.path.endswith("/claim"), start, answered)

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))
