"""Fencing over HTTP: a report with a stale or foreign claim token is refused and changes
nothing; a token for another job is forbidden, a tampered one unauthorized."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from infra.embedded_server import EmbeddedServer
from infra.layout import EVENTS, LEASES, QUEUE
from infra.services import Services
from infra.settings import Settings
from infra.tokens import Claim
from tests.api.helpers import ok
from tests.queue_helpers import HttpAgent, http_agent, post_job, queue_settings, stream_messages

LEASE_CALLS: dict[str, dict[str, object]] = {
    "start": {},
    "heartbeat": {},
    "complete": {"exit_code": 0},
    "fail": {"error": "late", "retryable": True},
    "release": {},
}


@pytest.fixture
def settings(fresh_server: EmbeddedServer) -> Settings:
    return queue_settings(fresh_server.url)


async def footprint(services: Services) -> list[int]:
    return [await stream_messages(services, s) for s in (EVENTS, QUEUE, LEASES)]


async def refused(
    services: Services, agent: HttpAgent, job_id: str, status: int, token: str | None = None
) -> None:
    """Every lease call with this token gets `status`, and none leaves a trace in any stream."""
    before = await footprint(services)
    for action, body in LEASE_CALLS.items():
        response = await agent.call(job_id, action, token, **body)
        assert response.status_code == status, f"{action}: {response.text}"
    assert await footprint(services) == before


@pytest.mark.parametrize("reclaimer", ["agent-b", "agent-a"])
async def test_the_token_of_a_lost_lease_is_fenced_off_once_the_job_is_claimed_again(
    client: httpx.AsyncClient, services: Services, reclaimer: str
) -> None:
    late, next_agent = await http_agent(client, "agent-a"), await http_agent(client, reclaimer)
    job_id = (await post_job(client, lease_s=2))["job_id"]
    await late.must_claim()
    expired = late.tokens[job_id]
    answer = await next_agent.claim(wait_s=4)
    assert answer is not None, "the job was not handed on within lease + 2 s"
    assert (answer["job"]["job_id"], answer["job"]["attempt"]) == (job_id, 2)
    await refused(services, late, job_id, 409, expired)
    done = ok(await next_agent.complete(job_id))
    view = ok(await client.get(f"/api/dashboard/jobs/{job_id}", params={"min_seq": done["seq"]}))
    lost = [h for h in view["history"] if h["event"] == "job.AttemptLost"]
    a = late.agent_id
    assert [(h["agent_id"], h["reason"]) for h in lost] == [
        (a, f"attempt 1 lost by {a}: lease expired")
    ]
    claims = [h["agent_id"] for h in view["history"] if h["status"] == "claimed"]
    assert claims == [a, next_agent.agent_id]
    assert (view["status"], view["attempts"]) == ("success", 2)


async def test_a_validly_signed_token_of_another_agent_gets_409(
    client: httpx.AsyncClient, services: Services
) -> None:
    holder = await http_agent(client, "agent-a")
    job_id = (await post_job(client))["job_id"]
    await holder.must_claim()
    claim = services.signer.verify(holder.tokens[job_id], Claim)
    other = await http_agent(client, "agent-z")
    foreign = services.signer.sign(claim.model_copy(update={"agent_id": other.agent_id}))
    await refused(services, other, job_id, 409, foreign)
    assert ok(await holder.complete(job_id))["status"] == "success"


def tampered(token: str) -> str:
    """The signature's last bytes changed."""
    body, mac = token.split(".")
    return f"{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"


def reforged(token: str) -> str:
    """The body claims attempt 9; the signature is still the one of attempt 1."""
    body, mac = token.split(".")
    claim = Claim.model_validate_json(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = claim.model_copy(update={"attempt": 9}).model_dump_json().encode()
    return f"{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{mac}"


def garbage(_: str) -> str:
    return "not-a-token"


@pytest.mark.parametrize("mangle", [tampered, reforged, garbage])
async def test_a_tampered_token_gets_401(
    client: httpx.AsyncClient, services: Services, mangle: Callable[[str], str]
) -> None:
    agent = await http_agent(client, "agent-a")
    job_id = (await post_job(client))["job_id"]
    await agent.must_claim()
    await refused(services, agent, job_id, 401, mangle(agent.tokens[job_id]))
    assert ok(await agent.complete(job_id))["status"] == "success"


async def test_a_token_for_another_job_gets_403(
    client: httpx.AsyncClient, services: Services
) -> None:
    agent = await http_agent(client, "agent-a")
    mine, other = [(await post_job(client))["job_id"] for _ in range(2)]
    await agent.must_claim()
    await agent.must_claim()
    await refused(services, agent, other, 403, agent.tokens[mine])
    await refused(services, agent, mine, 403, agent.tokens[other])
    assert ok(await agent.complete(other))["status"] == "success"
