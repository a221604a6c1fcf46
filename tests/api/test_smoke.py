from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import JOB, JOBS, SEQ


async def test_created_job_is_listed_after_its_sequence(client: httpx.AsyncClient) -> None:
    created = await client.post(JOBS, json=JOB)
    assert created.status_code == 201
    seq = created.headers[SEQ]
    listed = await client.get(JOBS, params={"min_seq": seq})
    assert [j["job_id"] for j in listed.json()["items"]] == [created.json()["job_id"]]


async def test_live_always_and_ready_when_caught_up(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/health/live")).json() == {"status": "alive"}
    ready = await client.get("/api/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "reasons": []})


@pytest.mark.parametrize("settings", [{"expected_workers": ["gateway"]}], indirect=True)
async def test_a_worker_never_heard_from_is_not_ready_and_named(client: httpx.AsyncClient) -> None:
    ready = await client.get("/api/health/ready")
    assert (ready.status_code, ready.json()["reasons"]) == (503, ["worker gateway not heard from"])
    health = (await client.get("/api/health")).json()
    assert health["missing_workers"] == ["gateway"]
    assert "worker gateway not heard from" in health["alarms"]
