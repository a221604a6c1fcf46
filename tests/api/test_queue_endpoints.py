"""The queue over HTTP: every route, the bodies it refuses, and the figures /stats reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.embedded_server import EmbeddedServer
from infra.layout import EVENTS, QUEUE
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import every_item, ok
from tests.queue_helpers import (
    NEW_JOB,
    QUEUE_API,
    HttpAgent,
    enqueue,
    eventually,
    http_agent,
    post_job,
    queue_drained,
    queue_holds,
    queue_settings,
    stream_messages,
)


@pytest.fixture
def settings(fresh_server: EmbeddedServer, request: pytest.FixtureRequest) -> Settings:
    return queue_settings(fresh_server.url, **getattr(request, "param", {}))


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> HttpAgent:
    return await http_agent(client, "agent-1")


async def read(client: httpx.AsyncClient, path: str, after: dict[str, Any]) -> Any:
    return ok(await client.get(path, params={"min_seq": after["seq"]}))


async def test_a_job_goes_from_enqueue_through_claim_start_heartbeat_to_complete(
    client: httpx.AsyncClient, services: Services
) -> None:
    fields = {"priority": "high", "labels": ["linux"], "command": "make", "metadata": {"pr": "7"}}
    response = await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | fields)
    queued = ok(response, 201)
    assert (queued["status"], queued["existing"]) == ("queued", False)
    assert response.headers["X-JetDeck-Seq"] == str(queued["seq"])
    agent = await http_agent(client, "agent-1", labels=("linux", "arm64"))
    answer = await agent.claim(wait_s=5)
    job = answer["job"]
    assert job["job_id"] == queued["job_id"]
    assert (job["command"], job["timeout_s"], job["attempt"]) == ("make", 3600, 1)
    assert (job["pool"], job["priority"], job["labels"]) == ("default", "high", ["linux"])
    assert (job["job_type"], job["metadata"], job["git"]["repo"]) == (
        "build",
        {"pr": "7"},
        "org/repo",
    )
    assert answer["heartbeat_every_s"] > 0
    assert ok(await agent.call(job["job_id"], "start"))["status"] == "running"
    beat = await agent.heartbeat(job["job_id"])
    assert (beat["status"], beat["cancelled"]) == ("running", False)
    assert beat["lease_expires_at"] is not None
    done = ok(await agent.complete(job["job_id"]))
    assert done["status"] == "success"
    view = await read(client, f"/api/dashboard/jobs/{job['job_id']}", done)
    statuses = [h["status"] for h in view["history"]]
    assert statuses == ["queued", "claimed", "running", "success"]
    await queue_drained(services)


async def test_an_agent_without_the_labels_a_job_asks_for_does_not_get_it(
    client: httpx.AsyncClient, agent: HttpAgent
) -> None:
    await post_job(client, labels=["gpu"])
    assert await agent.claim(wait_s=0.3) is None
    gpu = await http_agent(client, "agent-gpu", labels=("gpu",))
    assert await gpu.claim(wait_s=5) is not None


async def test_a_pending_job_is_queued_by_its_id_once(
    client: httpx.AsyncClient, agent: HttpAgent
) -> None:
    pending = ok(await client.post("/api/dashboard/jobs", json=NEW_JOB), 201)
    body = {"job_id": pending["job_id"], "priority": "low"}
    queued = ok(await client.post(f"{QUEUE_API}/jobs", json=body), 201)
    assert (queued["job_id"], queued["status"]) == (pending["job_id"], "queued")
    again = await client.post(f"{QUEUE_API}/jobs", json=body)
    assert again.status_code == 409, again.text
    assert await agent.must_claim() == pending["job_id"]
    assert await agent.claim() is None


SOME_ID = "6b270f22-4b9d-53c5-a517-58d818e9964b"
BAD_BODIES = [
    pytest.param("jobs", NEW_JOB | {"priority": "urgent"}, id="bad-priority"),
    pytest.param("jobs", NEW_JOB | {"colour": "red"}, id="enqueue-unknown-field"),
    pytest.param("jobs", NEW_JOB | {"max_attempts": 0}, id="no-attempts"),
    pytest.param("jobs", {"git_repo": "org/repo"}, id="no-job-type"),
    pytest.param("claim", {"agent_id": "a", "wait_s": 31}, id="wait-over-30s"),
    pytest.param("claim", {"agent_id": "a", "colour": "red"}, id="claim-unknown-field"),
    pytest.param("claim", {"agent_id": "a", "pool": "No Such/Pool"}, id="bad-pool-name"),
    pytest.param(
        "jobs",
        {"job_id": "6b270f22-4b9d-53c5-a517-58d818e9964b", "unique_key": "k"},
        id="unique-key-on-existing",
    ),
    pytest.param(
        "jobs",
        {"job_id": "6b270f22-4b9d-53c5-a517-58d818e9964b", "job_type": "t"},
        id="new-fields-on-existing",
    ),
]


@pytest.mark.parametrize(("route", "body"), BAD_BODIES)
async def test_bad_bodies_are_refused_with_422_and_change_nothing(
    agent: HttpAgent, services: Services, route: str, body: dict[str, Any]
) -> None:
    """Claims as the agent they are for, enqueues as the admin."""
    before = await stream_messages(services, EVENTS)
    if route == "claim":
        response = await agent.post(f"{QUEUE_API}/claim", body | {"agent_id": agent.agent_id})
    else:
        response = await agent.client.post(f"{QUEUE_API}/{route}", json=body)
    assert response.status_code == 422, response.text
    assert await stream_messages(services, EVENTS) == before


@pytest.mark.parametrize("action", ["start", "heartbeat", "complete", "fail", "release"])
async def test_lease_calls_refuse_a_body_without_a_claim_token(
    client: httpx.AsyncClient, agent: HttpAgent, action: str
) -> None:
    job_id = (await post_job(client))["job_id"]
    await agent.must_claim()
    response = await agent.post(f"{QUEUE_API}/jobs/{job_id}/{action}", {"exit_code": 0})
    assert response.status_code == 422, response.text


async def test_stats_report_depth_in_flight_and_dead_letters_per_pool_and_priority(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await post_job(client)
    gpu = await http_agent(client, "agent-gpu", pool="gpu")
    doomed = (await post_job(client, pool="gpu", priority="high"))["job_id"]
    await gpu.must_claim()
    ok(await gpu.fail(doomed, retryable=False))
    await post_job(client, pool="gpu", priority="high")
    await post_job(client, pool="gpu", priority="low")
    last = await gpu.claim(wait_s=5)
    stats = await every_item(client, f"{QUEUE_API}/stats", min_seq=last["seq"])
    figures = {
        (s["pool"], s["priority"]): (s["depth"], s["in_flight"], s["dead_letters"]) for s in stats
    }
    expected = dict.fromkeys(figures, (0, 0, 0)) | {
        ("default", "normal"): (3, 0, 0),
        ("gpu", "high"): (0, 1, 1),
        ("gpu", "low"): (1, 0, 0),
    }
    assert figures == expected
    assert len(figures) == 8


async def test_a_released_job_goes_to_the_next_agent_without_spending_an_attempt(
    client: httpx.AsyncClient, agent: HttpAgent
) -> None:
    job_id = (await post_job(client, max_attempts=1))["job_id"]
    await agent.must_claim()
    released = ok(await agent.call(job_id, "release"))
    assert released["status"] == "queued"
    answer = await (await http_agent(client, "agent-2")).claim(wait_s=5)
    assert (answer["job"]["job_id"], answer["job"]["attempt"]) == (job_id, 1)


async def test_a_unique_key_answers_with_the_unfinished_job_and_frees_up_when_it_completes(
    client: httpx.AsyncClient, agent: HttpAgent
) -> None:
    first = await post_job(client, unique_key="nightly-main")
    again = await post_job(client, unique_key="nightly-main")
    assert (again["job_id"], again["existing"], first["existing"]) == (first["job_id"], True, False)
    await agent.must_claim()
    held = await post_job(client, unique_key="nightly-main")
    assert (held["job_id"], held["existing"]) == (first["job_id"], True)
    ok(await agent.complete(first["job_id"]))
    fresh = await post_job(client, unique_key="nightly-main")
    assert fresh["job_id"] != first["job_id"]
    assert (fresh["existing"], fresh["status"]) == (False, "queued")
    assert await agent.must_claim() == fresh["job_id"]
    assert await agent.claim() is None


async def test_a_paused_pool_hands_out_nothing_until_it_is_resumed(
    client: httpx.AsyncClient, services: Services
) -> None:
    agent = await http_agent(client, "agent-1", pool="builds")
    job_id = (await post_job(client, pool="builds"))["job_id"]
    paused = ok(await client.post(f"{QUEUE_API}/pools/builds/pause", json={"reason": "freeze"}))
    assert (paused["pool"], paused["paused"]) == ("builds", True)
    assert await agent.claim(wait_s=0.5) is None
    assert await stream_messages(services, QUEUE) == 1
    resumed = ok(await client.post(f"{QUEUE_API}/pools/builds/resume"))
    assert (resumed["paused"], resumed["seq"] > paused["seq"]) == (False, True)
    assert await agent.must_claim() == job_id


async def test_a_claim_from_an_unknown_pool_gets_nothing_and_creates_no_consumer(
    client: httpx.AsyncClient, services: Services
) -> None:
    await post_job(client)
    assert await (await http_agent(client, "agent-1", pool="ghost")).claim(wait_s=0.3) is None
    consumers = await services.nc.jetstream().consumers_info(QUEUE)
    names = {c.name for c in consumers}
    assert "q-default-normal" in names
    assert not [n for n in names if "ghost" in n]
    assert await stream_messages(services, QUEUE) == 1


async def test_a_cancelled_queued_job_is_never_handed_out(
    client: httpx.AsyncClient, agent: HttpAgent, services: Services
) -> None:
    job_id = (await post_job(client))["job_id"]
    cancelled = ok(
        await client.post(f"{QUEUE_API}/jobs/{job_id}/cancel", json={"reason": "obsolete"})
    )
    assert cancelled["status"] == "cancelled"
    assert await agent.claim(wait_s=0.5) is None
    await queue_drained(services)
    view = await read(client, f"/api/dashboard/jobs/{job_id}", cancelled)
    assert (view["status"], view["history"][-1]["reason"]) == ("cancelled", "obsolete")


async def test_a_running_job_learns_it_was_cancelled_from_its_next_heartbeat(
    client: httpx.AsyncClient, agent: HttpAgent, services: Services
) -> None:
    job_id = (await post_job(client))["job_id"]
    await agent.must_claim()
    ok(await agent.call(job_id, "start"))
    ok(await client.post(f"{QUEUE_API}/jobs/{job_id}/cancel"))
    beat = await agent.heartbeat(job_id)
    assert (beat["status"], beat["cancelled"], beat["lease_expires_at"]) == (
        "cancelled",
        True,
        None,
    )
    late = await agent.complete(job_id)
    assert late.status_code == 409, late.text
    assert await (await http_agent(client, "agent-2")).claim(wait_s=0.5) is None
    await queue_drained(services)


async def test_a_retried_enqueue_with_a_unique_key_finds_its_job_even_after_it_finished(
    client: httpx.AsyncClient, agent: HttpAgent
) -> None:
    body, key = NEW_JOB | {"unique_key": "nightly-main"}, {"Idempotency-Key": "nightly-42"}
    first = ok(await client.post(f"{QUEUE_API}/jobs", json=body, headers=key), 201)
    ok(await agent.complete(await agent.must_claim()))
    again = ok(await client.post(f"{QUEUE_API}/jobs", json=body, headers=key), 201)
    assert (again["job_id"], again["existing"]) == (first["job_id"], True)
    assert await agent.claim() is None


@pytest.mark.parametrize("report", ["start", "complete"])
async def test_a_queued_job_cannot_be_reported_from_the_dashboard(
    client: httpx.AsyncClient, services: Services, report: str
) -> None:
    job = await post_job(client)
    before = await stream_messages(services, EVENTS)
    body = {} if report == "start" else {"status": "success", "exit_code": 0}
    answer = await client.patch(f"/api/dashboard/jobs/{job['job_id']}/{report}", json=body)
    assert answer.status_code == 409, answer.text
    assert "outside its lease" in answer.json()["detail"]
    assert await stream_messages(services, EVENTS) == before


@pytest.mark.parametrize("settings", [{"max_pools": 2}], indirect=True)
async def test_a_job_naming_one_pool_too_many_is_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    await post_job(client, pool="one")
    await post_job(client, pool="two")
    before = await stream_messages(services, EVENTS)
    refused = await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | {"pool": "three"})
    assert refused.status_code == 422, refused.text
    assert "JETDECK_MAX_POOLS" in refused.json()["detail"]
    assert await stream_messages(services, EVENTS) == before


@pytest.mark.parametrize("settings", [{"run_at_horizon_s": 3600}], indirect=True)
async def test_a_run_at_beyond_the_horizon_is_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    before = await stream_messages(services, EVENTS)
    for run_at in [datetime.now(UTC) + timedelta(hours=2), datetime(2700, 1, 1, tzinfo=UTC)]:
        refused = await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | {"run_at": str(run_at)})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "run_at"]
    assert await stream_messages(services, EVENTS) == before
    await post_job(client, run_at=str(datetime.now(UTC) + timedelta(minutes=30)))


async def test_tickets_due_centuries_ahead_are_put_back_without_spinning(
    agent: HttpAgent, services: Services
) -> None:
    """Jobs queued before `run_at` had a horizon: 2500 once made the server redeliver at once
    (a delay it could not read), 2700 a nak that could not even be encoded (a 500)."""
    for year in (2500, 2700):
        await enqueue(services, run_at=datetime(year, 1, 1, tzinfo=UTC))
    js = services.nc.jetstream()

    async def consumer(pending: int, ack_pending: int) -> bool:
        info = await js.consumer_info(QUEUE, "q-default-normal")
        return (info.num_pending, info.num_ack_pending) == (pending, ack_pending)

    await eventually(lambda: consumer(2, 0), 5, "both tickets in the queue")
    assert await agent.claim() is None
    await eventually(lambda: consumer(0, 2), 5, "both tickets put back with a delay")
    assert await agent.claim() is None
    assert (await js.consumer_info(QUEUE, "q-default-normal")).num_redelivered == 0


async def test_an_agent_with_free_slots_claims_several_jobs_in_one_call(
    client: httpx.AsyncClient, services: Services, agent: HttpAgent
) -> None:
    jobs = [(await post_job(client))["job_id"] for _ in range(3)]
    await queue_holds(services, 3)  # a claim takes what QUEUE holds, which lags EVENTS
    ask = {"agent_id": agent.agent_id, "wait_s": 2}
    first = ok(await agent.post(f"{QUEUE_API}/claims", ask | {"max_jobs": 2}))
    rest = ok(await agent.post(f"{QUEUE_API}/claims", ask | {"max_jobs": 5}))
    none = ok(await agent.post(f"{QUEUE_API}/claims", ask | {"max_jobs": 5, "wait_s": 0}))
    assert [c["job"]["job_id"] for c in first["claims"] + rest["claims"]] == jobs
    assert none == {"claims": []}
    token = first["claims"][0]["claim_token"]
    ok(await agent.call(jobs[0], "complete", token, exit_code=0))
    for bad in (0, 65):
        refused = await agent.post(f"{QUEUE_API}/claims", ask | {"max_jobs": bad})
        assert refused.status_code == 422
    other = await http_agent(client, "agent-2")
    stolen = await other.post(f"{QUEUE_API}/claims", ask | {"max_jobs": 1})
    assert stolen.status_code == 403, "an agent claims only for itself"
