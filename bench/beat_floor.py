"""The floor under the heartbeat figures: services that only write each beat, and nothing else.

A JetDeck heartbeat checks the agent's token, judges its health and answers with what the agent
should do; the one thing it cannot do without is writing the beat to HEARTBEATS. These two
services do only that, driven exactly as JetDeck's are, so they measure what the machine, the
load generator and the write cost before any of JetDeck's work:

* over NATS, the gateway's own plain nats-py responder (`workers.responder`: a queue group, a
  task per request) on `SUBJECT`: the beat written on the shared reply inbox (`infra.replies`),
  then `{"status": 200}`;
* over HTTP, a bare ASGI app under the same uvicorn as the API: `POST /beat/<agent_id>` writes
  the beat the same way and answers the same (a `GET` answers without writing: its health).

Each writes the beat JetDeck writes (`PAYLOAD`, with its `Nats-TTL`) on the agent's subject.

    python -m bench.beat_floor       the NATS responder
    uvicorn bench.beat_floor:app     the HTTP app

Both find the server in JETDECK_NATS_URL, as JetDeck's processes do.
"""

from __future__ import annotations

import asyncio
import math
import os
from typing import Any

import nats
import orjson
from nats.aio.client import Client

from domain.agent import Metrics
from domain.health import HealthPolicy
from infra.replies import Replies
from infra.runtime import run
from workers.native_beats import MAX_IN_FLIGHT
from workers.native_errors import Reply
from workers.responder import INBOXES, Responder

SUBJECT = "bench.floor.heartbeat"
METRICS = Metrics(cpu_pct=20.0, mem_pct=35.0, disk_pct=50.0, running_jobs=0)
POLICY = HealthPolicy()
TTL = {"Nats-TTL": f"{math.ceil(POLICY.heartbeat_interval_s * POLICY.offline_after_intervals)}s"}
PAYLOAD = orjson.dumps({"metrics": METRICS.model_dump(), "running_jobs": ()})
"""What `AgentService.heartbeat` writes for the bench's beat, with its header."""
OK: Reply = {"status": 200}
TIMEOUT_S = 30.0
Receive = Any
Send = Any


async def write_beat(replies: Replies, agent_id: str) -> None:
    answer = await replies.request(f"hb.{agent_id}", PAYLOAD, TTL, TIMEOUT_S)
    if "error" in answer:
        raise RuntimeError(f"the stream refused the beat: {answer['error']}")


async def serve_nats() -> None:
    nc = await nats.connect(os.environ["JETDECK_NATS_URL"], name="bench-beat-floor")
    replies = Replies(nc)
    await replies.start()

    async def answer(_: str, body: bytes) -> Reply:
        await write_beat(replies, orjson.loads(body)["agent_id"])
        return OK

    await Responder(nc, SUBJECT, "bench-beat-floor", answer, INBOXES, MAX_IN_FLIGHT).start()
    await asyncio.Event().wait()


class App:
    """The bare ASGI app: no framework, no validation, one route."""

    def __init__(self) -> None:
        self.nc: Client | None = None
        self.replies: Replies | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        while (await receive()).get("more_body"):
            pass  # the body says nothing the beat needs
        if scope["method"] == "POST":  # else a health check
            assert self.replies is not None
            await write_beat(self.replies, scope["path"].rsplit("/", 1)[1])
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": orjson.dumps(OK)})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.nc = await nats.connect(os.environ["JETDECK_NATS_URL"], name="bench-floor")
                self.replies = Replies(self.nc)
                await self.replies.start()
                await send({"type": "lifespan.startup.complete"})
            else:
                if self.nc is not None:
                    await self.nc.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = App()


if __name__ == "__main__":
    run(serve_nats())
