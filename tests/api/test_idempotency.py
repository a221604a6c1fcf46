"""Idempotency-Key on every POST and PATCH: a retry answers the same and appends nothing; the
same key with another body is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from api.idempotency import KEY_HEADER
from infra.services import Services
from tests.api.helpers import (
    DEPLOYMENT,
    DEPLOYMENTS,
    JOB,
    JOBS,
    SEQ,
    create_deployment,
    create_job,
    go_live,
    message_count,
    report,
    start_job,
)
from tests.queue_helpers import NEW_JOB, QUEUE_API

Request = tuple[str, str, dict[str, Any]]
"""Method, path and JSON body."""


async def job_create(client: httpx.AsyncClient) -> Request:
    return "POST", JOBS, JOB


async def job_start(client: httpx.AsyncClient) -> Request:
    job_id = (await create_job(client))["job_id"]
    return "PATCH", f"{JOBS}/{job_id}/start", {"agent_id": "agent-1"}


async def job_complete(client: httpx.AsyncClient) -> Request:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    return "PATCH", f"{JOBS}/{job_id}/complete", {"status": "success", "exit_code": 0}


async def deployment_create(client: httpx.AsyncClient) -> Request:
    return "POST", DEPLOYMENTS, DEPLOYMENT


async def staging(client: httpx.AsyncClient) -> Request:
    deployment_id = (await create_deployment(client))["deployment_id"]
    return "POST", f"{DEPLOYMENTS}/{deployment_id}/staging", {"outcome": "started"}


async def production_superseding(client: httpx.AsyncClient) -> Request:
    """Going live also supersedes the live deployment: two aggregates in one append."""
    await go_live(client)
    deployment_id = (await create_deployment(client, service_version="v2"))["deployment_id"]
    await report(client, deployment_id, "staging")
    return "POST", f"{DEPLOYMENTS}/{deployment_id}/production", {"outcome": "succeeded"}


async def rollback(client: httpx.AsyncClient) -> Request:
    deployment_id = (await go_live(client))["deployment_id"]
    return "POST", f"{DEPLOYMENTS}/{deployment_id}/rollback", {"reason": "errors"}


async def queue_enqueue(client: httpx.AsyncClient) -> Request:
    return "POST", f"{QUEUE_API}/jobs", NEW_JOB


async def queue_cancel(client: httpx.AsyncClient) -> Request:
    job_id = (await send(client, await queue_enqueue(client), "enqueue")).json()["job_id"]
    return "POST", f"{QUEUE_API}/jobs/{job_id}/cancel", {"reason": "obsolete"}


SETUPS = [job_create, job_start, job_complete, deployment_create, staging, rollback, queue_cancel]
KEYED = [*SETUPS, queue_enqueue]
"""An enqueue's retry answers as the first did but for `existing`, which says it is a retry."""
ANOTHER_BODY: dict[str, dict[str, Any]] = {
    "job_create": {"job_type": "lint"},
    "job_start": {"agent_id": "agent-2"},
    "job_complete": {"status": "failed", "exit_code": 1},
    "deployment_create": {"service_version": "v9"},
    "staging": {"reason": "another"},
    "rollback": {"reason": "another"},
    "queue_enqueue": {"job_type": "lint"},
    "queue_cancel": {"reason": "another"},
}


async def send(client: httpx.AsyncClient, request: Request, key: str) -> httpx.Response:
    method, path, body = request
    return await client.request(method, path, json=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize(
    "setup",
    [*SETUPS, production_superseding],
    ids=[*(s.__name__ for s in SETUPS), "production_superseding"],
)
async def test_retry_with_the_same_key_answers_the_same_and_appends_nothing(
    client: httpx.AsyncClient,
    services: Services,
    setup: Callable[[httpx.AsyncClient], Awaitable[Request]],
) -> None:
    request = await setup(client)
    first = await send(client, request, "key-1")
    assert first.status_code in (200, 201), first.text
    count = await message_count(services)
    again = await send(client, request, "key-1")
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.headers[SEQ] == first.headers[SEQ] == str(first.json()["seq"])
    assert await message_count(services) == count


@pytest.mark.parametrize("setup", KEYED, ids=[s.__name__ for s in KEYED])
async def test_the_same_key_with_another_body_is_422_and_appends_nothing(
    client: httpx.AsyncClient,
    services: Services,
    setup: Callable[[httpx.AsyncClient], Awaitable[Request]],
) -> None:
    method, path, body = await setup(client)
    first = await send(client, (method, path, body), "key-5")
    assert first.status_code in (200, 201), first.text
    count = await message_count(services)
    other = await send(client, (method, path, body | ANOTHER_BODY[setup.__name__]), "key-5")
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
    assert other.headers[KEY_HEADER] == "key-5"
    assert await message_count(services) == count


async def test_a_retry_may_reorder_and_reformat_its_body(
    client: httpx.AsyncClient, services: Services
) -> None:
    first = await send(client, await job_create(client), "key-6")
    count = await message_count(services)
    reordered = orjson.dumps(dict(reversed(JOB.items())), option=orjson.OPT_INDENT_2)
    headers = {KEY_HEADER: "key-6", "content-type": "application/json"}
    again = await client.post(JOBS, content=reordered, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert await message_count(services) == count


async def test_reusing_a_key_for_another_action_on_a_job_is_422(
    client: httpx.AsyncClient, services: Services
) -> None:
    created = await send(client, await job_create(client), "key-2")
    job_id = created.json()["job_id"]
    count = await message_count(services)
    start = await send(client, ("PATCH", f"{JOBS}/{job_id}/start", {}), "key-2")
    assert (start.status_code, start.json()["error"]) == (422, "idempotency_key_reused")
    assert await message_count(services) == count


async def test_reusing_a_key_for_another_stage_is_422(
    client: httpx.AsyncClient, services: Services
) -> None:
    request = await staging(client)
    assert (await send(client, request, "key-3")).status_code == 200
    count = await message_count(services)
    production: Request = ("POST", request[1].replace("staging", "production"), {})
    assert (await send(client, production, "key-3")).status_code == 422
    assert await message_count(services) == count


async def test_a_key_is_scoped_to_the_resource_it_acts_on(
    client: httpx.AsyncClient, services: Services
) -> None:
    job = await send(client, await job_create(client), "key-4")
    count = await message_count(services)
    deployment = await send(client, await deployment_create(client), "key-4")
    assert (job.status_code, deployment.status_code) == (201, 201)
    assert deployment.json()["deployment_id"] != job.json()["job_id"]
    assert await message_count(services) == count + 1


@pytest.mark.parametrize("key", ["", "has space", "tab\there", "x" * 201])
async def test_malformed_key_is_422(
    client: httpx.AsyncClient, services: Services, key: str
) -> None:
    response = await client.post(JOBS, json=JOB, headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert KEY_HEADER not in response.headers, "no key is in use"
    assert await message_count(services) == 0
