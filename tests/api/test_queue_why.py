"""`GET /api/queue/jobs/{job_id}/why` on a real nats-server: jobs made through the API, each read
after the write it must see (`min_seq`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from infra.embedded_server import EmbeddedServer
from infra.settings import Settings
from tests.api.helpers import ok
from tests.queue_helpers import QUEUE_API, http_agent, post_job, queue_settings


@pytest.fixture
def settings(fresh_server: EmbeddedServer, request: pytest.FixtureRequest) -> Settings:
    return queue_settings(fresh_server.url, **getattr(request, "param", {}))


async def why(client: httpx.AsyncClient, job_id: str, after: Any, **params: Any) -> Any:
    """The answer once the read models hold the write whose answer was `after`."""
    query = {"min_seq": after["seq"]} | params
    return ok(await client.get(f"{QUEUE_API}/jobs/{job_id}/why", params=query))


async def test_a_paused_pool_is_the_reason_until_it_is_resumed(client: httpx.AsyncClient) -> None:
    await http_agent(client, "a1")
    job = await post_job(client)
    pause = {"reason": "maintenance"}
    paused = ok(await client.post(f"{QUEUE_API}/pools/default/pause", json=pause))
    answer = await why(client, job["job_id"], paused)
    assert (answer["waiting"], answer["reason"], answer["holding"]) == (
        True,
        "pool_paused",
        ["pool_paused"],
    )
    assert answer["sentence"].startswith("Pool default is paused (maintenance)")
    resumed = ok(await client.post(f"{QUEUE_API}/pools/default/resume"))
    answer = await why(client, job["job_id"], resumed)
    assert (answer["reason"], answer["holding"]) == ("next_up", [])
    assert "number 1 in line" in answer["sentence"]
    past = await why(client, job["job_id"], resumed, as_of=paused["seq"])
    assert past["reason"] == "pool_paused"


async def test_labels_no_registered_agent_has_are_named(client: httpx.AsyncClient) -> None:
    await http_agent(client, "a1", labels=("linux",))
    job = await post_job(client, labels=["gpu", "cuda"])
    answer = await why(client, job["job_id"], job)
    assert answer["reason"] == "no_capable_agent"
    assert answer["sentence"] == "No registered agent in pool default has the labels cuda, gpu."
    facts = answer["facts"]
    assert (facts["labels"], facts["agents_in_pool"], facts["capable_agents"]) == (
        ["cuda", "gpu"],
        1,
        0,
    )


async def test_a_busy_agent_gives_the_place_in_line(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "a1")
    running = await post_job(client)
    claim = await agent.claim(wait_s=5)
    assert claim is not None
    assert claim["job"]["job_id"] == running["job_id"]
    await post_job(client)
    await post_job(client, priority="high")
    mine = await post_job(client)
    answer = await why(client, mine["job_id"], mine)
    assert answer["reason"] == "agents_busy"
    assert answer["sentence"] == (
        "The one agent that could run it is busy, and it is number 3 in line at priority normal "
        "(1 job of higher priority and 1 older job of its own go first)."
    )
    assert answer["facts"]["place"] == {"position": 3, "higher": 1, "older": 1, "due": 3}
    assert answer["facts"]["agents"][0]["running"] == 1
    held = await why(client, running["job_id"], claim)
    assert (held["waiting"], held["reason"], held["facts"]) == (False, "not_waiting", None)
    assert held["sentence"] == "It is not waiting: agent a1 claimed it and is starting it."


async def test_a_finished_job_is_not_waiting_and_an_unknown_one_is_a_404(
    client: httpx.AsyncClient,
) -> None:
    agent = await http_agent(client, "a1")
    job = await post_job(client)
    job_id = await agent.must_claim()
    done = ok(await agent.complete(job_id))
    answer = await why(client, job["job_id"], done)
    assert (answer["status"], answer["reason"]) == ("success", "not_waiting")
    assert answer["sentence"].startswith("It is not waiting: it finished success at ")
    missing = await client.get(f"{QUEUE_API}/jobs/{uuid4()}/why")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


async def test_a_run_at_ahead_is_the_reason(client: httpx.AsyncClient) -> None:
    await http_agent(client, "a1")
    run_at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    job = await post_job(client, run_at=run_at.isoformat())
    answer = await why(client, job["job_id"], job)
    assert answer["reason"] == "scheduled"
    assert f"{run_at:%Y-%m-%d %H:%M:%S} UTC (run_at)" in answer["sentence"]
    assert answer["facts"]["place"] is None


@pytest.mark.parametrize("settings", [{"retry_base_s": 600, "retry_cap_s": 600}], indirect=True)
async def test_a_failed_attempt_backs_off_until_its_retry_time(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "a1")
    job = await post_job(client)
    job_id = await agent.must_claim()
    failed = ok(await agent.fail(job_id))
    answer = await why(client, job["job_id"], failed)
    assert (answer["status"], answer["reason"]) == ("queued", "backing_off")
    assert answer["sentence"].startswith("It is backing off after attempt 1 failed, until ")
    assert datetime.fromisoformat(answer["facts"]["retry_at"]) > datetime.now(UTC)
