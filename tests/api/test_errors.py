"""Bodies the API must refuse with a 4xx and never a 500: too large, not JSON, not an object."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from infra.services import Services
from tests.api.helpers import (
    DEPLOYMENTS,
    JOB,
    JOBS,
    create_deployment,
    create_job,
    message_count,
    ok,
    start_job,
)
from wire.problems import PROBLEM_JSON

SMALL = pytest.mark.parametrize("settings", [{"max_body_bytes": 1024}], indirect=True)
OVERSIZED = orjson.dumps(JOB | {"git_commit_message": "x" * 2000})
JSON = {"content-type": "application/json"}


@SMALL
async def test_oversized_body_is_413(client: httpx.AsyncClient, services: Services) -> None:
    response = await client.post(JOBS, content=OVERSIZED, headers=JSON)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert await message_count(services) == 0


@SMALL
async def test_oversized_body_without_length_is_413(
    client: httpx.AsyncClient, services: Services
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(OVERSIZED), 256):
            yield OVERSIZED[start : start + 256]

    response = await client.post(JOBS, content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"] == "content_too_large"
    assert await message_count(services) == 0


@SMALL
async def test_body_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = orjson.dumps(JOB | {"git_commit_message": "x" * 500})
    assert len(body) < 1024
    assert (await client.post(JOBS, content=body, headers=JSON)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[]", b"null", b'"job"', b'{"job_type": "test",}'],
    ids=["broken", "empty", "list", "null", "string", "trailing comma"],
)
@pytest.mark.parametrize("path", [JOBS, DEPLOYMENTS])
async def test_malformed_create_body_is_422(
    client: httpx.AsyncClient, services: Services, path: str, body: bytes
) -> None:
    response = await client.post(path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert await message_count(services) == 0


@pytest.mark.parametrize("action", ["start", "complete"])
async def test_malformed_patch_body_is_422(client: httpx.AsyncClient, action: str) -> None:
    job_id = (await create_job(client))["job_id"]
    response = await client.patch(f"{JOBS}/{job_id}/{action}", content=b"{", headers=JSON)
    assert response.status_code == 422


@pytest.mark.parametrize("action", ["staging", "production", "rollback"])
async def test_malformed_deployment_report_is_422(client: httpx.AsyncClient, action: str) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    response = await client.post(
        f"{DEPLOYMENTS}/{deployment_id}/{action}", content=b"{", headers=JSON
    )
    assert response.status_code == 422


async def test_unknown_route_and_method_are_not_500(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/nothing")).status_code == 404
    assert (await client.delete(JOBS)).status_code == 405


# Values that reach the codec or a comparison must be refused at the edge, not end in a 500

NON_FINITE = [b"NaN", b"Infinity", b"-Infinity"]


async def report_metric(client: httpx.AsyncClient, value: bytes) -> tuple[str, httpx.Response]:
    deployment_id = (await create_deployment(client))["deployment_id"]
    body = b'{"outcome": "succeeded", "metrics": {"error_rate": %s}}' % value
    path = f"{DEPLOYMENTS}/{deployment_id}/staging"
    return deployment_id, await client.post(path, content=body, headers=JSON)


@pytest.mark.parametrize("value", NON_FINITE)
async def test_non_finite_metric_is_never_stored(
    server_client: httpx.AsyncClient, services: Services, value: bytes
) -> None:
    deployment_id, response = await report_metric(server_client, value)
    assert response.status_code >= 400
    assert await message_count(services) == 1
    audit = ok(await server_client.get(f"/api/audit/deployment/{deployment_id}"))
    assert audit["chain_valid"]


@pytest.mark.parametrize("value", NON_FINITE)
async def test_non_finite_metric_is_422(server_client: httpx.AsyncClient, value: bytes) -> None:
    assert (await report_metric(server_client, value))[1].status_code == 422


async def test_lone_surrogate_in_a_string_is_422(server_client: httpx.AsyncClient) -> None:
    body = orjson.dumps(JOB | {"git_commit_message": "@"}).replace(b"@", b"\\ud800")
    assert (await server_client.post(JOBS, content=body, headers=JSON)).status_code == 422


async def test_naive_created_from_is_422(server_client: httpx.AsyncClient) -> None:
    created = await create_job(server_client)
    params = {"created_from": "2025-01-01T00:00:00", "min_seq": created["seq"]}
    assert (await server_client.get(JOBS, params=params)).status_code == 422


async def test_exit_code_too_large_for_the_log_is_422(
    server_client: httpx.AsyncClient, services: Services
) -> None:
    job_id = (await create_job(server_client))["job_id"]
    await start_job(server_client, job_id)
    body = {"status": "success", "exit_code": 2**70}
    response = await server_client.patch(f"{JOBS}/{job_id}/complete", json=body)
    assert response.status_code == 422
