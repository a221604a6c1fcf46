"""An agent holding a job's lease, writing its log over HTTP, and readers of that log: for the
job log tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from infra.layout import LOGS
from infra.services import Services
from tests.api.helpers import ok
from tests.queue_helpers import QUEUE_API, HttpAgent, eventually, http_agent, post_job

WITHIN_S = 10.0
"""Deadline for something that must happen, never a measure of speed."""


def logs_of(job_id: str) -> str:
    return f"/api/dashboard/jobs/{job_id}/logs"


def chunk(text: str, stream: str = "stdout") -> dict[str, str]:
    return {"stream": stream, "text": text}


@dataclass
class Holder:
    """An agent holding the lease of one job."""

    client: httpx.AsyncClient
    agent_id: str
    headers: dict[str, str]
    job_id: str
    token: str

    async def write(self, *chunks: dict[str, str], **extra: Any) -> httpx.Response:
        body = {"claim_token": self.token, "chunks": list(chunks)} | extra
        return await self.client.post(
            f"{QUEUE_API}/jobs/{self.job_id}/logs", json=body, headers=self.headers
        )

    async def report(self, action: str, **body: Any) -> Any:
        path = f"{QUEUE_API}/jobs/{self.job_id}/{action}"
        body["claim_token"] = self.token
        return ok(await self.client.post(path, json=body, headers=self.headers))


def agent_headers(agent: HttpAgent) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent.agent_token}"}


async def new_agent(client: httpx.AsyncClient) -> HttpAgent:
    """Registered and healthy, under a name of its own."""
    return await http_agent(client, f"agent-{uuid4().hex[:6]}")


async def hold_new_job(client: httpx.AsyncClient) -> Holder:
    agent = await new_agent(client)
    job_id = (await post_job(client))["job_id"]
    assert await agent.must_claim() == job_id
    return Holder(client, agent.agent_id, agent_headers(agent), job_id, agent.tokens[job_id])


def sse_events(body: str) -> list[dict[str, str]]:
    """The events of a Server-Sent Events body, comments left out."""
    events = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def follow_started(services: Services) -> None:
    """Until the follow's ordered consumer exists on LOGS."""
    js = services.nc.jetstream()

    async def subscribed() -> bool:
        return (await js.stream_info(LOGS)).state.consumer_count > 0

    await eventually(subscribed, WITHIN_S, "the follow subscribed")
