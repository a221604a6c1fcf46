"""Request bodies from the issue's contract and short calls the API tests share."""

from __future__ import annotations

from typing import Any

import httpx

from infra.services import Services

JOBS = "/api/dashboard/jobs"
DEPLOYMENTS = "/api/dashboard/deployments"
SEQ = "X-JetDeck-Seq"

JOB = {
    "job_type": "test",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
    "git_commit_message": "Add feature",
    "git_author": "alice@example.com",
}
DEPLOYMENT = {
    "service_name": "api-backend",
    "service_version": "v1.0.0",
    "git_commit_sha": "abc123def456",
    "git_commit_message": "Release v1",
    "git_author": "bob@example.com",
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The body of a response that must have `status`; its text explains a failure."""
    assert response.status_code == status, response.text
    return response.json()


async def create_job(client: httpx.AsyncClient, **fields: Any) -> Any:
    return ok(await client.post(JOBS, json=JOB | fields), 201)


async def start_job(client: httpx.AsyncClient, job_id: str, agent_id: str = "agent-1") -> Any:
    return ok(await client.patch(f"{JOBS}/{job_id}/start", json={"agent_id": agent_id}))


async def complete_job(
    client: httpx.AsyncClient, job_id: str, status: str = "success", exit_code: int = 0
) -> Any:
    body = {"status": status, "exit_code": exit_code}
    return ok(await client.patch(f"{JOBS}/{job_id}/complete", json=body))


async def create_deployment(client: httpx.AsyncClient, **fields: Any) -> Any:
    return ok(await client.post(DEPLOYMENTS, json=DEPLOYMENT | fields), 201)


async def report(
    client: httpx.AsyncClient, deployment_id: str, env: str, outcome: str = "succeeded"
) -> Any:
    path = f"{DEPLOYMENTS}/{deployment_id}/{env}"
    return ok(await client.post(path, json={"outcome": outcome}))


async def go_live(client: httpx.AsyncClient, **fields: Any) -> Any:
    """A new deployment taken through staging and production; the last answer."""
    deployment_id = (await create_deployment(client, **fields))["deployment_id"]
    await report(client, deployment_id, "staging")
    return await report(client, deployment_id, "production")


async def roll_back(client: httpx.AsyncClient, deployment_id: str, reason: str = "errors") -> Any:
    path = f"{DEPLOYMENTS}/{deployment_id}/rollback"
    return ok(await client.post(path, json={"reason": reason}))


async def every_item(client: httpx.AsyncClient, path: str, **params: Any) -> list[Any]:
    """The items of every page of a list, following `next_cursor` to the last page."""
    items: list[Any] = []
    cursor = None
    while True:
        page = ok(await client.get(path, params=params | ({"cursor": cursor} if cursor else {})))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def read(client: httpx.AsyncClient, path: str, after: Any, **params: Any) -> Any:
    """GET `path` once the read models hold the write whose answer was `after`."""
    return ok(await client.get(path, params={"min_seq": after["seq"]} | params))


async def role_token(client: httpx.AsyncClient, name: str, role: str, **fields: Any) -> str:
    """A new service token holding `role`, once the read models know it."""
    body = {"name": name, "roles": [role]} | fields
    issued = ok(await client.post("/api/auth/tokens", json=body), 201)
    await read(client, "/api/dashboard/summary", issued)
    token: str = issued["token"]
    return token


STARTUP_EVENTS = 1
"""Every test app starts by issuing its bootstrap admin token: one event."""


async def message_count(services: Services) -> int:
    """The events the test appended, after the app's own startup event."""
    return (await services.stream_state()).messages - STARTUP_EVENTS
