"""The floor under the claim latency over NATS: the gateway's plain nats-py responder
(`workers.responder`) in a process of its own, as the gateway is, that claims and completes with
only the writes JetDeck must do (bench.queue_floor's, on its streams).

Like JetDeck's dispatcher it holds tickets for the next claims: a claim takes a held ticket when
there is one, and the hand-out of the last one pulls the next batch in the background, so a claim
in a steady stream finds its ticket in memory. No token, no decision, no read model, no answer
model: a claim request is answered `{"status": 200, "job_id": ...}` once its lease and `Claimed`
are stored, a complete request (`{"job_id": ...}`) once `Completed`, the ack and the purge are.

    python -m bench.claim_floor     (JETDECK_NATS_URL names the server)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from typing import Any

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from bench.claim_latency import Claim
from bench.queue_common import POOL, tickets_held, until
from bench.queue_floor import QUEUE, Claimed, Floor, claim, complete
from bench.queue_sides import LEVEL
from domain.queue import Priority
from infra.event_store import EventStore
from infra.layout import consumer_name
from infra.replies import Replies
from infra.runtime import run
from workers.native_beats import MAX_IN_FLIGHT
from workers.native_errors import Reply
from workers.responder import INBOXES, Responder

CLAIM = "bench.floor.claim"
COMPLETE = "bench.floor.complete"
PREFETCH = 8
FILL_TIMEOUT_S = 120.0
NEXT = f"$JS.API.CONSUMER.MSG.NEXT.{QUEUE}.{consumer_name(POOL, LEVEL)}"


class Tickets:
    """Tickets pulled ahead of the claims that take them."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.inbox = nc.new_inbox()
        self.held: deque[Msg] = deque()
        self.waiting: deque[asyncio.Future[Msg]] = deque()

    async def start(self) -> None:
        await self.nc.subscribe(self.inbox, cb=self._arrived)
        await self._pull()

    async def take(self) -> Msg:
        if not self.held:
            waiter: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            await self._pull()
            return await waiter
        ticket = self.held.popleft()
        if not self.held:
            await self._pull()  # arrives while this claim writes
        return ticket

    async def _pull(self) -> None:
        body = orjson.dumps({"batch": PREFETCH, "no_wait": True})
        await self.nc.publish(NEXT, body, reply=self.inbox)

    async def _arrived(self, msg: Msg) -> None:
        if not msg.reply:
            return  # a status: no more tickets for now
        if self.waiting:
            self.waiting.popleft().set_result(msg)
        else:
            self.held.append(msg)


async def ready(nc: Client, store: EventStore, jobs: int) -> None:
    """The floor's streams declared and `jobs` tickets in its queue, before its process starts."""
    floor = await Floor.declared(nc, store)
    await floor.fill(jobs)
    js = nc.jetstream()

    async def filled() -> bool:
        return await tickets_held(js, QUEUE, consumer_name(POOL, LEVEL)) >= jobs

    await until(filled, FILL_TIMEOUT_S, f"the floor's queue did not receive {jobs} tickets")


def floor_claim(nc: Client) -> Claim:
    """A claim and its complete, timed apart, as bench.claim_remote times the gateway's."""

    async def ask(subject: str, body: bytes) -> dict[str, Any]:
        answer: dict[str, Any] = orjson.loads((await nc.request(subject, body, timeout=30)).data)
        return answer

    async def run() -> tuple[float, float, Priority]:
        started = time.perf_counter()
        grant = await ask(CLAIM, b"{}")
        claimed = time.perf_counter()
        await ask(COMPLETE, orjson.dumps({"job_id": grant["job_id"]}))
        return claimed - started, time.perf_counter() - claimed, LEVEL

    return run


async def serve() -> None:
    nc = await nats.connect(os.environ["JETDECK_NATS_URL"], name="bench-claim-floor")
    replies = Replies(nc)
    await replies.start()
    tickets = Tickets(nc)
    await tickets.start()
    claimed: dict[str, Claimed] = {}

    async def claim_one(_: str, __: bytes) -> Reply:
        made = await claim(replies, await tickets.take())
        claimed[made.job_id] = made
        return {"status": 200, "job_id": made.job_id}

    async def complete_one(_: str, body: bytes) -> Reply:
        await complete(nc, replies, claimed.pop(orjson.loads(body)["job_id"]))
        return {"status": 200}

    for subject, answer in ((CLAIM, claim_one), (COMPLETE, complete_one)):
        await Responder(nc, subject, subject, answer, INBOXES, MAX_IN_FLIGHT).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    run(serve())
