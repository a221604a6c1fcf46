"""Agent tokens: registering needs the registration token, every agent call needs the agent's
own token, and an agent may act only for itself and on its own claims."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.helpers import ok
from tests.api.test_agents_support import AGENTS, HOST, Agent, bearer, fleet, metrics
from tests.queue_helpers import QUEUE_API, post_job

LEASE_CALLS: dict[str, dict[str, Any]] = {
    "start": {},
    "heartbeat": {},
    "complete": {"exit_code": 0},
    "fail": {"error": "exit 1"},
    "release": {},
}
REGISTER = {"name": "build-1", "host": HOST}


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-the-registration-token"), {"Authorization": "Basic YWRtaW46YWRtaW4="}],
    ids=["none", "wrong", "basic"],
)
async def test_registering_needs_the_registration_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    ok(await client.post(f"{AGENTS}/register", json=REGISTER, headers=headers), 401)


def tampered(token: str) -> str:
    body, mac = token.split(".")
    return f"{body}.{mac[::-1]}"


async def agent_calls(client: httpx.AsyncClient, agent: Agent, job_id: str) -> list[int]:
    """Status codes of a heartbeat, a claim and a lease call in `agent`'s name via `client`."""
    calls = [
        (f"{AGENTS}/{agent.agent_id}/heartbeat", metrics()),
        (f"{QUEUE_API}/claim", {"agent_id": agent.agent_id, "wait_s": 0}),
        (f"{QUEUE_API}/jobs/{job_id}/start", {"claim_token": agent.tokens[job_id]}),
    ]
    return [(await client.post(path, json=body)).status_code for path, body in calls]


@pytest.mark.parametrize("credentials", ["none", "garbage", "tampered", "claim token"])
async def test_agent_calls_need_a_valid_agent_token(
    app: FastAPI, client: httpx.AsyncClient, credentials: str
) -> None:
    await post_job(client)
    async with fleet(app) as agents:
        agent = await agents.join()
        job_id = await agent.must_claim()
    tokens = {
        "garbage": "garbage",
        "tampered": tampered(agent.token),
        "claim token": agent.tokens[job_id],
    }
    client.headers.pop("Authorization")
    client.headers.update(bearer(tokens[credentials]) if credentials in tokens else {})
    assert await agent_calls(client, agent, job_id) == [401, 401, 401]


async def test_an_agent_acts_only_for_itself(app: FastAPI, client: httpx.AsyncClient) -> None:
    await post_job(client)
    async with fleet(app) as agents:
        mallory, victim = await agents.join("mallory"), await agents.join("victim")
        job_id = await victim.must_claim()
        beat = await mallory.client.post(f"{AGENTS}/{victim.agent_id}/heartbeat", json=metrics())
        claim = await mallory.claim_with(agent_id=victim.agent_id)
        lease = {
            action: (await mallory.call(job_id, action, victim.tokens[job_id], **body)).status_code
            for action, body in LEASE_CALLS.items()
        }
        assert (beat.status_code, claim.status_code) == (403, 403)
        assert lease == dict.fromkeys(LEASE_CALLS, 403)
        assert ok(await victim.complete(job_id))["status"] == "success"
