"""Retries are safe without a client key: every write runs under a key, named in every answer,
and a write whose outcome is unknown says so and names the key its retry must carry."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from api.idempotency import KEY_HEADER
from infra.embedded_server import EmbeddedServer
from infra.services import Services
from infra.unit_of_work import load_history
from tests.api.conftest import http_client
from tests.api.helpers import JOB, JOBS, message_count


async def test_a_write_answers_with_the_key_it_was_given(client: httpx.AsyncClient) -> None:
    answer = await client.post(JOBS, json=JOB, headers={KEY_HEADER: "build-42"})
    assert (answer.status_code, answer.headers[KEY_HEADER]) == (201, "build-42")


async def test_a_write_without_a_key_gets_one_and_a_retry_with_it_appends_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    first = await client.post(JOBS, json=JOB)
    assigned = first.headers[KEY_HEADER]
    count = await message_count(services)
    again = await client.post(JOBS, json=JOB, headers={KEY_HEADER: assigned})
    assert (again.status_code, again.json()) == (201, first.json())
    assert await message_count(services) == count
    other = await client.post(JOBS, json=JOB)
    assert other.headers[KEY_HEADER] != assigned
    assert other.json()["job_id"] != first.json()["job_id"]


async def test_error_answers_to_writes_name_the_key_too(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    missing = await client.patch(f"{JOBS}/{uuid4()}/start", json={})
    invalid = await client.post(JOBS, json={"job_type": ""}, headers={KEY_HEADER: "bad-body"})
    async with http_client(app, token=None) as anonymous:
        refused = await anonymous.post(JOBS, json=JOB)
    assert [missing.status_code, invalid.status_code, refused.status_code] == [404, 422, 401]
    assert all(a.headers.get(KEY_HEADER) for a in (missing, refused))
    assert invalid.headers[KEY_HEADER] == "bad-body"


async def test_reads_carry_no_key(client: httpx.AsyncClient) -> None:
    assert KEY_HEADER not in (await client.get(JOBS)).headers


def keyed_operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if any(
            p["in"] == "header" and p["name"] == KEY_HEADER for p in operation.get("parameters", [])
        )
    }


async def test_the_openapi_document_names_the_key_on_every_answer_to_a_keyed_write(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/api/openapi.json")).json()
    keyed = keyed_operations(doc)
    assert {("post", JOBS), ("post", "/api/queue/jobs"), ("patch", f"{JOBS}/{{job_id}}/start")} <= (
        keyed.keys()
    )
    for operation in keyed.values():
        for answer in operation["responses"].values():
            assert KEY_HEADER in answer["headers"]
    assert "headers" not in doc["paths"][JOBS]["get"]["responses"]["200"]


@pytest.mark.parametrize("settings", [{"write_timeout_s": 0.3}], indirect=True)
async def test_a_write_nats_does_not_confirm_is_503_and_its_retry_lands_once(
    fresh_server: EmbeddedServer, client: httpx.AsyncClient, services: Services
) -> None:
    count = await message_count(services)
    with fresh_server.paused():
        lost = await client.post(JOBS, json=JOB)
    assert lost.status_code == 503, lost.text
    assert lost.headers["Retry-After"]
    key = lost.headers[KEY_HEADER]
    problem = lost.json()
    assert (problem["error"], problem["idempotency_key"]) == ("outcome_unknown", key)
    assert key in problem["detail"]
    retry = await client.post(JOBS, json=JOB, headers={KEY_HEADER: key})
    assert retry.status_code == 201, retry.text
    history = await load_history(services.store, "job", UUID(retry.json()["job_id"]))
    assert [r.type for r in history] == ["job.Created"]
    assert await message_count(services) == count + 1
