"""`?as_of=` on the dashboard reads: the answer the API gives for a log cut at that point."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.deps import AS_OF_HEADER
from infra.services import Services
from tests.api.helpers import JOBS, complete_job, create_job, go_live, ok, start_job
from tests.integration.helpers import folded

READS = [
    JOBS,
    f"{JOBS}/running",
    "/api/dashboard/deployments",
    "/api/dashboard/deployments/service/payments",
    "/api/dashboard/summary",
    "/api/dashboard/metrics/dora",
    "/api/agents",
    "/api/agents/health",
    "/api/pools",
    "/api/queue/stats",
    "/api/queue/dead-letters",
]


async def write(client: httpx.AsyncClient, jobs: int) -> list[str]:
    ids = []
    for n in range(jobs):
        job_id = (await create_job(client))["job_id"]
        await start_job(client, job_id)
        if n % 2:
            await complete_job(client, job_id)
        ids.append(job_id)
    await go_live(client, service_name="payments", service_version=f"v{jobs}")
    return ids


async def expected(app: FastAPI, client: httpx.AsyncClient, seq: int, path: str) -> Any:
    """What `path` answers when the app's read models are the fold of 1..seq."""
    services: Services = app.state.services
    app.state.services = replace(services, views=await folded(services, seq), as_of_seq=seq)
    try:
        return ok(await client.get(path))
    finally:
        app.state.services = services


async def test_as_of_a_sequence_answers_the_log_cut_there(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    ids = await write(client, jobs=12)
    await services.runner.catch_up(5)
    await services.runner.save_snapshot()
    below = services.runner.snapshot_seq
    ids += await write(client, jobs=6)
    await services.runner.catch_up(5)
    for seq in (3, below - 5, below, below + 9, services.runner.position):
        for path in [*READS, f"{JOBS}/{ids[0]}"]:
            answer = await client.get(path, params={"as_of": seq})
            assert answer.headers[AS_OF_HEADER] == str(seq)
            assert ok(answer) == await expected(app, client, seq, path), (seq, path)


async def test_as_of_a_time_between_two_writes_answers_the_first(
    client: httpx.AsyncClient,
) -> None:
    first = await create_job(client)
    between = datetime.now(UTC)
    second = await create_job(client)
    answer = await client.get(JOBS, params={"as_of": between.isoformat()})
    assert answer.headers[AS_OF_HEADER] == str(first["seq"])
    assert [job["job_id"] for job in ok(answer)["items"]] == [first["job_id"]]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answer = await client.get(JOBS, params={"as_of": later})  # the future: the present state
    assert answer.headers[AS_OF_HEADER] == str(second["seq"])
    assert len(ok(answer)["items"]) == 2
    missing = await client.get(f"{JOBS}/{second['job_id']}", params={"as_of": first["seq"]})
    assert missing.status_code == 404


@pytest.mark.parametrize("as_of", ["yesterday", "2026-01-01T00:00:00", "-3", "99999", "²", "١٢"])
async def test_a_bad_as_of_is_a_422(client: httpx.AsyncClient, as_of: str) -> None:
    answer = await client.get("/api/dashboard/summary", params={"as_of": as_of})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_error"
    assert body["errors"][0]["loc"] == ["query", "as_of"]


async def test_without_as_of_the_answer_names_no_past(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/dashboard/summary")
    assert AS_OF_HEADER not in answer.headers
