"""`POST /api/queue/jobs:batch`: every job in the log, each answered on its own, a retry writes
nothing, and a refused batch appends nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from domain.job import Job
from infra.layout import EVENTS
from infra.services import Services
from tests.api.conftest import http_client
from tests.api.helpers import ok, role_token
from tests.queue_helpers import NEW_JOB, QUEUE_API, events, job_log, stream_messages
from wire.batch import MAX_BATCH

BATCH = f"{QUEUE_API}/jobs:batch"
UNKNOWN_ID = "6b270f22-4b9d-53c5-a517-58d818e9964b"


def jobs(count: int) -> list[dict[str, Any]]:
    return [NEW_JOB | {"command": f"echo {n}", "priority": "high"} for n in range(count)]


async def test_a_batch_lands_every_job_in_the_log_in_order(
    client: httpx.AsyncClient, services: Services
) -> None:
    answer = ok(await client.post(BATCH, json={"jobs": jobs(50)}))
    assert answer["queued"] == 50
    assert [j["status"] for j in answer["jobs"]] == [201] * 50
    ids = [UUID(j["job_id"]) for j in answer["jobs"]]
    assert len(set(ids)) == 50
    created = {e.originator_id: e for e in events(await job_log(services.store), Job.Created)}
    assert set(ids) <= set(created)
    specs = [created[i].spec for i in ids]
    assert [s.command if s else None for s in specs] == [f"echo {n}" for n in range(50)]
    assert answer["seq"] == max(j["seq"] for j in answer["jobs"])


async def test_one_refused_job_refuses_only_itself(
    client: httpx.AsyncClient, services: Services
) -> None:
    pending = ok(await client.post("/api/dashboard/jobs", json=NEW_JOB), 201)
    batch = [NEW_JOB, {"job_id": UNKNOWN_ID}, {"job_id": pending["job_id"]}, NEW_JOB]
    answer = ok(await client.post(BATCH, json={"jobs": batch}))
    assert [j["status"] for j in answer["jobs"]] == [201, 404, 201, 201]
    assert answer["jobs"][1]["error"] == "not_found"
    assert answer["queued"] == 3
    log = await job_log(services.store)
    queued = {e.originator_id for e in events(log, Job.Created) if e.spec is not None}
    queued |= {e.originator_id for e in events(log, Job.Queued)}
    for n in (0, 2, 3):
        assert UUID(answer["jobs"][n]["job_id"]) in queued


async def test_a_retried_batch_answers_as_the_first_and_writes_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = {"Idempotency-Key": "nightly-42"}
    body = {"jobs": [*jobs(3), {"job_id": UNKNOWN_ID}]}
    first = ok(await client.post(BATCH, json=body, headers=headers))
    before = await stream_messages(services, EVENTS)
    again = ok(await client.post(BATCH, json=body, headers=headers))
    assert await stream_messages(services, EVENTS) == before
    assert [j["job_id"] for j in again["jobs"]] == [j["job_id"] for j in first["jobs"]]
    assert [j["seq"] for j in again["jobs"]] == [j["seq"] for j in first["jobs"]]
    assert [j["existing"] for j in again["jobs"][:3]] == [True] * 3
    assert again["jobs"][3]["status"] == 404


async def test_the_same_key_with_another_job_refuses_that_job_only(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = ok(await client.post(BATCH, json={"jobs": jobs(2)}, headers=headers))
    changed = [jobs(1)[0], NEW_JOB | {"command": "rm -rf /"}]
    again = ok(await client.post(BATCH, json={"jobs": changed}, headers=headers))
    assert again["jobs"][0]["job_id"] == first["jobs"][0]["job_id"]
    assert again["jobs"][1]["error"] == "idempotency_key_reused"


async def refused(app: FastAPI, services: Services, token: str | None, status: int) -> None:
    before = await stream_messages(services, EVENTS)
    async with http_client(app, token=token) as caller:
        response = await caller.post(BATCH, json={"jobs": jobs(3)})
    assert response.status_code == status, response.text
    assert await stream_messages(services, EVENTS) == before


async def test_a_caller_without_credentials_or_permission_appends_nothing(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    await refused(app, services, None, 401)
    await refused(app, services, "jdsvc_not-a-real-token-0123456789abcdefghijk", 401)
    await refused(app, services, await role_token(client, "viewer", "viewer"), 403)
    await refused(app, services, await role_token(client, "ci", "reporter"), 403)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"jobs": []}, id="empty"),
        pytest.param({"jobs": [NEW_JOB] * (MAX_BATCH + 1)}, id="oversized"),
        pytest.param({"jobs": [NEW_JOB, {"git_repo": "org/repo"}]}, id="one-malformed"),
        pytest.param({"jobs": [NEW_JOB | {"priority": "urgent"}]}, id="bad-priority"),
        pytest.param({"jobs": [NEW_JOB | {"run_at": "2999-01-01T00:00:00Z"}]}, id="run-at"),
        pytest.param({"jobs": NEW_JOB}, id="not-a-list"),
        pytest.param({"jobs": [NEW_JOB], "colour": "red"}, id="unknown-field"),
    ],
)
async def test_a_bad_batch_is_a_422_and_appends_nothing(
    client: httpx.AsyncClient, services: Services, body: dict[str, Any]
) -> None:
    before = await stream_messages(services, EVENTS)
    response = await client.post(BATCH, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert await stream_messages(services, EVENTS) == before


async def test_a_malformed_job_is_named_in_the_problem(client: httpx.AsyncClient) -> None:
    body = {"jobs": [NEW_JOB, NEW_JOB | {"priority": "urgent"}]}
    problem = (await client.post(BATCH, json=body)).json()
    assert any(e["loc"][:3] == ["body", "jobs", 1] for e in problem["errors"])


async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    huge = {"jobs": [NEW_JOB | {"command": "x" * 10_000}] * 200}
    assert (await client.post(BATCH, json=huge)).status_code == 413
