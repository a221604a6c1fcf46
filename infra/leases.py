"""Per-job leases on LEASES: one message `lease.<job_id>` whose TTL is the job's lease.

Heartbeats rewrite it; when it is not renewed the server removes it and leaves a marker, which
the lease monitor turns into a lost attempt (docs/architecture.md, Queue).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.errors import UnavailableError
from infra.layout import LEASES
from infra.nats_errors import unavailable_on_failure
from infra.replies import Replies

MARKER = "Nats-Marker-Reason"
PURGE = f"$JS.API.STREAM.PURGE.{LEASES}"


class Leases:
    def __init__(self, nc: Client, replies: Replies, timeout_s: float) -> None:
        self.js = nc.jetstream()
        self.replies = replies
        self.timeout_s = timeout_s

    async def write(self, job_id: str, agent_id: str, ack_subject: str, lease_s: int) -> None:
        stored = await self.send(job_id, agent_id, ack_subject, lease_s)
        await stored()

    async def send(
        self, job_id: str, agent_id: str, ack_subject: str, lease_s: int
    ) -> Callable[[], Awaitable[None]]:
        """The lease is on the wire when this returns; the call returned waits until it is stored. A
        claim sends it and then its `Claimed` event, and waits for both together."""
        body = orjson.dumps({"agent_id": agent_id, "ack_subject": ack_subject})
        what = f"writing the lease of job {job_id}"
        with unavailable_on_failure(what):
            answer = await self.replies.send(
                f"lease.{job_id}", body, {"Nats-TTL": f"{lease_s}s", "Nats-Expected-Stream": LEASES}
            )

        async def stored() -> None:
            with unavailable_on_failure(what):
                answered = await answer(self.timeout_s)
            if "error" in answered:
                raise UnavailableError(f"{what}: refused, {answered['error']}")

        return stored

    async def alive(self, job_id: str) -> bool:
        with unavailable_on_failure(f"reading the lease of job {job_id}"):
            try:
                last = await self.js.get_last_msg(LEASES, f"lease.{job_id}")
            except JsNotFoundError:
                return False
        return MARKER not in (last.headers or {})

    async def end(self, job_id: str) -> None:
        """A purge of the job's subject, asked on the shared reply inbox like the writes: every
        finished job ends its lease, and nats-py's `purge_stream` makes a request of its own (an
        inbox future, stdlib `json`, a response object) for each."""
        what = f"ending the lease of job {job_id}"
        with unavailable_on_failure(what):
            answered = await self.replies.request(
                PURGE, orjson.dumps({"filter": f"lease.{job_id}"}), None, self.timeout_s
            )
        if "error" in answered:
            raise UnavailableError(f"{what}: refused, {answered['error']}")
