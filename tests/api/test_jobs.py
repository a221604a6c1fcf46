"""Dashboard jobs over HTTP: create, list with filters and cursors, start, complete, errors."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.api.helpers import (
    JOB,
    JOBS,
    SEQ,
    complete_job,
    create_job,
    ok,
    read,
    start_job,
)
from tests.queue_helpers import NEW_JOB, QUEUE_API

OUTCOMES = ["success", "failed", "timeout", "cancelled", "error"]


async def test_contract_body_creates_a_pending_job(client: httpx.AsyncClient) -> None:
    response = await client.post(JOBS, json=JOB)
    created = ok(response, 201)
    assert created["status"] == "pending"
    assert response.headers[SEQ] == str(created["seq"])
    job = await read(client, f"{JOBS}/{created['job_id']}", created)
    assert job["job_id"] == created["job_id"]
    assert (job["status"], job["job_type"]) == ("pending", "test")
    assert job["git"] == {
        "repo": "org/repo",
        "ref": "main",
        "commit_sha": "abc123def456",
        "commit_message": "Add feature",
        "author": "alice@example.com",
    }


async def test_start_then_complete_records_agent_outcome_and_history(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await create_job(client))["job_id"]
    started = await start_job(client, job_id, "agent-7")
    assert started["status"] == "running"
    done = await complete_job(client, job_id, "failed", exit_code=2)
    assert done["status"] == "failed"
    assert done["seq"] > started["seq"]
    job = await read(client, f"{JOBS}/{job_id}", done)
    assert (job["status"], job["exit_code"], job["agent_id"]) == ("failed", 2, "agent-7")
    assert job["duration_s"] >= 0
    assert [h["status"] for h in job["history"]] == ["pending", "running", "failed"]


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_running_job_completes_with_each_outcome(
    client: httpx.AsyncClient, outcome: str
) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    done = await complete_job(client, job_id, outcome)
    assert done["status"] == outcome
    assert (await read(client, f"{JOBS}/{job_id}", done))["status"] == outcome


async def test_running_lists_started_jobs_until_they_finish(client: httpx.AsyncClient) -> None:
    a, b, c = [(await create_job(client))["job_id"] for _ in range(3)]
    await start_job(client, a)
    await start_job(client, b)
    last = await complete_job(client, a)
    running = (await read(client, f"{JOBS}/running", last))["items"]
    assert [j["job_id"] for j in running] == [b]
    assert c not in {j["job_id"] for j in running}


async def jobs_listed(client: httpx.AsyncClient, after: Any, **params: Any) -> list[str]:
    page = await read(client, JOBS, after, **params)
    return [j["metadata"]["label"] for j in page["items"]]


async def test_list_filters_jobs_newest_first(client: httpx.AsyncClient) -> None:
    a = await create_job(client, git_repo="org/a", metadata={"label": "a"})
    b = await create_job(client, git_repo="org/b", git_ref="dev", metadata={"label": "b"})
    await create_job(client, git_repo="org/a", git_ref="dev", metadata={"label": "c"})
    await start_job(client, a["job_id"], "agent-x")
    await start_job(client, b["job_id"], "agent-y")
    last = await complete_job(client, a["job_id"], "failed", 1)
    b_created = (await read(client, f"{JOBS}/{b['job_id']}", last))["created_at"]
    expected = {
        "": ({}, "cba"),
        "status": ({"status": "running"}, "b"),
        "failed": ({"status": "failed"}, "a"),
        "repo": ({"repo": "org/a"}, "ca"),
        "ref": ({"ref": "dev"}, "cb"),
        "agent": ({"agent_id": "agent-x"}, "a"),
        "from": ({"created_from": b_created}, "cb"),
        "to": ({"created_to": b_created}, "a"),
        "repo and ref": ({"repo": "org/a", "ref": "dev"}, "c"),
    }
    for name, (params, labels) in expected.items():
        assert "".join(await jobs_listed(client, last, **params)) == labels, name


async def test_list_filters_by_type_and_pool(client: httpx.AsyncClient) -> None:
    """A job reported to the dashboard is in no pool; queued ones are in theirs."""
    await create_job(client, job_type="lint", metadata={"label": "r"})
    queue = f"{QUEUE_API}/jobs"
    for label, pool, kind in (
        ("l", "linux", "build"),
        ("m", "mac", "build"),
        ("t", "linux", "test"),
    ):
        body = NEW_JOB | {"job_type": kind, "pool": pool, "metadata": {"label": label}}
        last = ok(await client.post(queue, json=body), 201)
    expected = {
        "type": ({"job_type": "build"}, "ml"),
        "reported type": ({"job_type": "lint"}, "r"),
        "pool": ({"pool": "linux"}, "tl"),
        "pool and type": ({"pool": "linux", "job_type": "test"}, "t"),
        "no such pool": ({"pool": "default"}, ""),
    }
    for name, (params, labels) in expected.items():
        assert "".join(await jobs_listed(client, last, **params)) == labels, name


async def test_cursor_walks_every_job_once_newest_first(client: httpx.AsyncClient) -> None:
    created = [await create_job(client, metadata={"label": str(n)}) for n in range(5)]
    last, pages, cursor = created[-1], [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await read(client, JOBS, last, **params)
        pages.append([j["metadata"]["label"] for j in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["4", "3"], ["2", "1"], ["0"]]


# Errors


async def test_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    missing = uuid4()
    assert (await client.get(f"{JOBS}/{missing}")).status_code == 404
    start = await client.patch(f"{JOBS}/{missing}/start", json={})
    assert (start.status_code, start.json()["error"]) == (404, "not_found")
    done = await client.patch(f"{JOBS}/{missing}/complete", json={"status": "success"})
    assert done.status_code == 404


def conflict(response: httpx.Response, status: str) -> None:
    body = ok(response, 409)
    assert (body["error"], body["current_status"]) == ("invalid_transition", status)
    assert f"in status {status}" in body["detail"]


async def test_forbidden_transitions_are_409_naming_the_current_status(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await create_job(client))["job_id"]
    conflict(await client.patch(f"{JOBS}/{job_id}/complete", json={"status": "success"}), "pending")
    await start_job(client, job_id)
    conflict(await client.patch(f"{JOBS}/{job_id}/start", json={}), "running")
    await complete_job(client, job_id, "timeout")
    conflict(await client.patch(f"{JOBS}/{job_id}/complete", json={"status": "failed"}), "timeout")


@pytest.mark.parametrize(
    "body",
    [
        JOB | {"git_commit_sha": "not-a-sha"},
        JOB | {"git_commit_sha": "abc12"},
        JOB | {"unexpected": 1},
        JOB | {"job_type": ""},
        {k: v for k, v in JOB.items() if k != "git_repo"},
        JOB | {"metadata": {"k": 1}},
    ],
    ids=["bad sha", "short sha", "extra field", "empty type", "missing repo", "bad metadata"],
)
async def test_invalid_job_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await client.post(JOBS, json=body)).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"status": "bogus"},
        {"status": "running"},
        {"status": "pending"},
        {"status": "success", "extra": True},
        {"status": "success", "exit_code": "zero"},
        {},
    ],
    ids=["unknown status", "running", "pending", "extra field", "bad exit code", "no status"],
)
async def test_invalid_completion_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    assert (await client.patch(f"{JOBS}/{job_id}/complete", json=body)).status_code == 422


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/not-a-uuid", {}),
        ("", {"limit": 0}),
        ("", {"limit": 501}),
        ("", {"cursor": 0}),
        ("", {"status": "bogus"}),
        ("", {"created_from": "yesterday"}),
        ("", {"min_seq": -1}),
    ],
)
async def test_invalid_query_is_422(
    client: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> None:
    assert (await client.get(f"{JOBS}{path}", params=params)).status_code == 422
