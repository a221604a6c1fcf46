"""An agent holding a job's lease, writing its log over HTTP, and readers of that log: for the
job log tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from infra.layout import LOGS
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import ok
from tests.queue_helpers import eventually

QUEUE = "/api/queue"
WITHIN_S = 10.0
"""Deadline for something that must happen, never a measure of speed."""
NEW_JOB = {
    "job_type": "build",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
    "command": "make test",
}
HOST = {"hostname": "h1", "os": "linux", "arch": "x86_64", "cpu_count": 2, "memory_mb": 2048}


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
            f"{QUEUE}/jobs/{self.job_id}/logs", json=body, headers=self.headers
        )

    async def report(self, action: str, **body: Any) -> Any:
        path = f"{QUEUE}/jobs/{self.job_id}/{action}"
        body["claim_token"] = self.token
        return ok(await self.client.post(path, json=body, headers=self.headers))


async def register(client: httpx.AsyncClient, settings: Settings) -> tuple[str, dict[str, str]]:
    body = {"name": f"agent-{uuid4().hex[:6]}", "host": HOST}
    auth = {"Authorization": f"Bearer {settings.registration_token.get_secret_value()}"}
    answer = ok(await client.post("/api/agents/register", json=body, headers=auth), 201)
    agent_id, headers = answer["agent_id"], {"Authorization": f"Bearer {answer['agent_token']}"}
    beat = {"cpu_pct": 1, "mem_pct": 1, "disk_pct": 1}  # a registered agent works once it beats
    ok(await client.post(f"/api/agents/{agent_id}/heartbeat", json=beat, headers=headers))
    return agent_id, headers


async def hold_new_job(client: httpx.AsyncClient, settings: Settings) -> Holder:
    agent_id, headers = await register(client, settings)
    job_id = ok(await client.post(f"{QUEUE}/jobs", json=NEW_JOB), 201)["job_id"]
    claim = {"agent_id": agent_id, "wait_s": 5}
    answer = ok(await client.post(f"{QUEUE}/claim", json=claim, headers=headers))
    assert answer["job"]["job_id"] == job_id
    return Holder(client, agent_id, headers, job_id, answer["claim_token"])


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
