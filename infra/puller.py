"""Single-message pulls that never wait: `no_wait` requests, one inbox each.

nats-py's `fetch()` has no `no_wait`, so an empty level would cost its whole timeout; a claim
asks up to four levels, highest first, and must learn "empty" in one round trip. A pulled
message arrives on its stream subject, not on the request's inbox, so inboxes are not shared.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import BadSubscriptionError

from infra.layout import QUEUE
from infra.nats_errors import unavailable_on_failure

REQUEST = orjson.dumps({"batch": 1, "no_wait": True})


async def pull_one(nc: Client, consumer: str, timeout_s: float = 5.0) -> Msg | None:
    """The consumer's next message, or None at once when it has none."""
    got: asyncio.Future[Msg | None] = asyncio.get_running_loop().create_future()

    async def on_reply(msg: Msg) -> None:
        if not got.done():
            empty = msg.headers is not None and "Status" in msg.headers
            got.set_result(None if empty else msg)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_reply, max_msgs=1)
    try:
        with unavailable_on_failure(f"pulling from {consumer}"):
            await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{QUEUE}.{consumer}", REQUEST, reply=inbox)
            return await asyncio.wait_for(got, timeout_s)
    finally:
        with contextlib.suppress(BadSubscriptionError):
            await sub.unsubscribe()
