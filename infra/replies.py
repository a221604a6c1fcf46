"""Request/reply for JetStream publishes on one shared inbox subscription.

nats-py's `js.publish` costs about a third of the command path's CPU (a task per request, stdlib
`json`, a `PubAck` dataclass); appends only need the reply's JSON, so they share one inbox and
parse it with orjson.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, NamedTuple

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError

Answer = Callable[[float], Awaitable[dict[str, Any]]]
"""Waits up to the seconds given for the answer to a message `Replies.send` published."""


def expire(fut: asyncio.Future[Any], after_s: float) -> asyncio.TimerHandle:
    """TimeoutError in `fut` (a plain future: a task takes no exception set from outside) after
    `after_s` unless it is done by then; cancel the handle when it is. A bare timer, not
    `asyncio.timeout`, which costs several times as much (a context, a rescheduled handle, the
    task's cancel bookkeeping): every append and heartbeat awaits one."""
    return asyncio.get_running_loop().call_later(after_s, _time_out, fut)


def _time_out(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class Expected(NamedTuple):
    """A reply to come on `inbox`, into `reply`."""

    token: str
    inbox: str
    reply: asyncio.Future[Msg]


class Replies:
    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._prefix = nc.new_inbox()
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._sub: Subscription | None = None
        self._next = 0

    async def start(self) -> None:
        """Subscribe to the inbox: before the first `expect` whose inbox is published to."""
        if self._sub is None:
            self._sub = await self.nc.subscribe(f"{self._prefix}.*", cb=self._on_reply)

    async def _on_reply(self, msg: Msg) -> None:
        fut = self._waiting.pop(msg.subject[len(self._prefix) + 1 :], None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def expect(self) -> Expected:
        """A reply subject to publish with, and the future its reply will settle."""
        self._next += 1
        token = str(self._next)
        fut: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        self._waiting[token] = fut
        return Expected(token, f"{self._prefix}.{token}", fut)

    def forget(self, expected: Expected) -> None:
        self._waiting.pop(expected.token, None)

    async def wait(self, expected: Expected, timeout_s: float) -> dict[str, Any]:
        """JetStream's JSON answer (an ack or an error) to what was published with `expected`."""
        timer = expire(expected.reply, timeout_s)
        try:
            reply = await expected.reply
        finally:
            timer.cancel()
            self.forget(expected)
        if reply.headers and reply.headers.get("Status") == "503":
            raise NoRespondersError
        parsed: dict[str, Any] = orjson.loads(reply.data)
        return parsed

    async def request(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout_s: float
    ) -> dict[str, Any]:
        """Publish and wait for JetStream's JSON answer (an ack or an error)."""
        answer = await self.send(subject, payload, headers)
        return await answer(timeout_s)

    async def send(self, subject: str, payload: bytes, headers: dict[str, str] | None) -> Answer:
        """Publish now; the call returned waits for the answer, so that writes which need not
        follow one another are on the wire together (a claim's lease and its event)."""
        await self.start()
        expected = self.expect()
        try:
            await self.nc.publish(subject, payload, reply=expected.inbox, headers=headers)
        except BaseException:
            self.forget(expected)
            raise
        return partial(self.wait, expected)
