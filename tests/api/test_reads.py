"""Summary, audit trail, health and read-your-writes over HTTP."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from infra.services import Services
from tests.api.helpers import (
    JOBS,
    STARTUP_EVENTS,
    complete_job,
    create_deployment,
    create_job,
    go_live,
    message_count,
    ok,
    read,
    start_job,
)

SUMMARY = "/api/dashboard/summary"


async def finished_job(client: httpx.AsyncClient, outcome: str) -> str:
    job_id: str = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    await complete_job(client, job_id, outcome)
    return job_id


async def test_summary_counts_jobs_success_rate_and_live_versions(
    client: httpx.AsyncClient,
) -> None:
    for outcome in ["success", "success", "success", "failed", "cancelled"]:
        await finished_job(client, outcome)
    await start_job(client, (await create_job(client))["job_id"])
    await create_job(client)
    last = await go_live(client)
    summary = await read(client, SUMMARY, last)
    assert summary["jobs_total"] == 7
    assert {s: n for s, n in summary["jobs_by_status"].items() if n} == {
        "success": 3,
        "failed": 1,
        "cancelled": 1,
        "running": 1,
        "pending": 1,
    }
    assert summary["success_rate"] == 0.75
    assert summary["running_now"] == 1
    assert summary["duration"]["count"] == 4
    assert summary["deployments_last_24h"] == 1
    assert summary["live_versions"] == {
        "api-backend": {"staging": "v1.0.0", "production": "v1.0.0"}
    }
    assert summary["as_of_seq"] >= last["seq"]


async def test_summary_of_an_empty_log(client: httpx.AsyncClient) -> None:
    summary = ok(await client.get(SUMMARY))
    assert (summary["jobs_total"], summary["success_rate"]) == (0, None)
    assert summary["duration"] == {"count": 0, "mean_s": None, "p95_s": None}


async def test_audit_trail_lists_events_in_order_with_a_valid_chain(
    client: httpx.AsyncClient,
) -> None:
    job_id = await finished_job(client, "success")
    trail = ok(await client.get(f"/api/audit/job/{job_id}"))
    assert (trail["aggregate"], trail["id"], trail["chain_valid"]) == ("job", job_id, True)
    events = trail["events"]
    assert [e["type"] for e in events] == ["job.Created", "job.Started", "job.Completed"]
    assert [e["action"] for e in events] == ["job.create", "job.start", "job.complete"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert [e["prev"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert events[2]["data"]["status"] == "success"


async def test_audit_trail_of_a_deployment(client: httpx.AsyncClient) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    trail = ok(await client.get(f"/api/audit/deployment/{deployment_id}"))
    assert [e["type"] for e in trail["events"]] == ["deployment.Created"]
    assert trail["chain_valid"]


@pytest.mark.parametrize("kind", ["job", "deployment", "pipeline"])
async def test_audit_of_unknown_kind_or_id_is_404(client: httpx.AsyncClient, kind: str) -> None:
    await create_job(client)
    assert (await client.get(f"/api/audit/{kind}/{uuid4()}")).status_code == 404


async def test_audit_of_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/audit/job/42")).status_code == 422


async def test_health_reports_stream_and_projection(
    client: httpx.AsyncClient, services: Services
) -> None:
    created = await create_job(client)
    await services.runner.wait_for(created["seq"], 5)
    health = ok(await client.get("/api/health"))
    assert (health["status"], health["nats_connected"]) == ("ok", True)
    assert health["stream"]["messages"] == await message_count(services) + STARTUP_EVENTS == 2
    assert (health["projection_seq"], health["projection_lag"]) == (2, 0)
    assert health["skipped_events"] == 0


async def test_read_with_min_seq_sees_that_write(client: httpx.AsyncClient) -> None:
    """Read-your-writes; the wait itself is the projection runner's (tests/integration), and a
    sequence the log has not reached yet is a 409, below."""
    first = await create_job(client)
    second = await create_job(client)
    listed = ok(await client.get(JOBS, params={"min_seq": second["seq"]}))
    assert [j["job_id"] for j in listed["items"]] == [second["job_id"], first["job_id"]]


async def test_read_with_a_min_seq_beyond_the_log_is_409_at_once(
    client: httpx.AsyncClient, services: Services
) -> None:
    last = (await services.stream_state()).last_seq
    response = await client.get(JOBS, params={"min_seq": last + 1000})
    assert response.status_code == 409
    assert response.json()["error"] == "beyond_log"
    assert response.json()["last_seq"] == last
    assert f"ends at {last}" in response.json()["detail"]
