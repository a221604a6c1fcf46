"""Dashboard deployments over HTTP: stages, going live, superseding, rolling back, errors."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.api.helpers import (
    DEPLOYMENT,
    DEPLOYMENTS,
    create_deployment,
    go_live,
    ok,
    read,
    report,
    roll_back,
)


async def deployment(client: httpx.AsyncClient, after: Any, deployment_id: str) -> Any:
    return await read(client, f"{DEPLOYMENTS}/{deployment_id}", after)


async def test_contract_body_creates_a_pending_deployment(client: httpx.AsyncClient) -> None:
    created = await create_deployment(client)
    assert created["status"] == "pending"
    found = await deployment(client, created, created["deployment_id"])
    assert (found["service_name"], found["service_version"]) == ("api-backend", "v1.0.0")
    assert found["git"]["commit_message"] == "Release v1"
    assert found["git"]["author"] == "bob@example.com"


async def test_stage_without_body_starts_it(client: httpx.AsyncClient) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    started = ok(await client.post(f"{DEPLOYMENTS}/{deployment_id}/staging"))
    assert started["status"] == "staging"
    staged = await report(client, deployment_id, "staging", "succeeded")
    assert staged["status"] == "staged"
    found = await deployment(client, staged, deployment_id)
    assert found["environments"]["staging"]["duration_s"] >= 0


async def test_staging_then_production_succeeded_goes_live(client: httpx.AsyncClient) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    assert (await report(client, deployment_id, "staging"))["status"] == "staged"
    assert (await report(client, deployment_id, "production", "started"))["status"] == (
        "production"
    )
    live = await report(client, deployment_id, "production")
    assert live["status"] == "live"
    assert (await deployment(client, live, deployment_id))["status"] == "live"


async def test_failed_stage_keeps_the_reason(client: httpx.AsyncClient) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    body = {"outcome": "failed", "reason": "smoke tests failed", "metrics": {"errors": 3}}
    failed = ok(await client.post(f"{DEPLOYMENTS}/{deployment_id}/staging", json=body))
    assert failed["status"] == "failed"
    found = await deployment(client, failed, deployment_id)
    assert found["environments"]["staging"]["failure_reason"] == "smoke tests failed"
    assert found["metrics"]["errors"] == 3


async def test_second_live_deployment_supersedes_the_first(client: httpx.AsyncClient) -> None:
    first = await go_live(client)
    second = await go_live(client, service_version="v1.1.0")
    old = await deployment(client, second, first["deployment_id"])
    assert (old["status"], old["superseded_by"]) == ("superseded", second["deployment_id"])
    assert (await deployment(client, second, second["deployment_id"]))["status"] == "live"


async def test_rollback_of_live_restores_the_superseded_one(client: httpx.AsyncClient) -> None:
    first = await go_live(client)
    second = await go_live(client, service_version="v1.1.0")
    rolled = await roll_back(client, second["deployment_id"], "error rate up")
    assert rolled["status"] == "rolled_back"
    new = await deployment(client, rolled, second["deployment_id"])
    assert new["rollback"]["reason"] == "error rate up"
    assert new["rollback"]["restored_deployment_id"] == first["deployment_id"]
    assert new["rollback"]["restored_version"] == "v1.0.0"
    old = await deployment(client, rolled, first["deployment_id"])
    assert (old["status"], old["superseded_by"]) == ("live", None)
    summary = await read(client, "/api/dashboard/summary", rolled)
    assert summary["live_versions"]["api-backend"]["production"] == "v1.0.0"


async def test_rollback_without_a_predecessor_restores_nothing(client: httpx.AsyncClient) -> None:
    staged = await create_deployment(client)
    await report(client, staged["deployment_id"], "staging")
    rolled = await roll_back(client, staged["deployment_id"])
    found = await deployment(client, rolled, staged["deployment_id"])
    assert found["status"] == "rolled_back"
    assert found["rollback"]["restored_deployment_id"] is None


async def test_lists_by_service_and_status_newest_first(client: httpx.AsyncClient) -> None:
    await go_live(client)
    await create_deployment(client, service_name="web", service_version="w1")
    last = await create_deployment(client, service_version="v2.0.0")
    by_service = await read(client, f"{DEPLOYMENTS}/service/api-backend", last)
    assert [d["service_version"] for d in by_service["items"]] == ["v2.0.0", "v1.0.0"]
    page = await read(client, DEPLOYMENTS, last, limit=2)
    assert [d["service_version"] for d in page["items"]] == ["v2.0.0", "w1"]
    older = await read(client, DEPLOYMENTS, last, limit=2, cursor=page["next_cursor"])
    assert ([d["service_version"] for d in older["items"]], older["next_cursor"]) == (
        ["v1.0.0"],
        None,
    )
    live = await read(client, DEPLOYMENTS, last, status="live", service="api-backend")
    assert [d["service_version"] for d in live["items"]] == ["v1.0.0"]
    nothing = await read(client, f"{DEPLOYMENTS}/service/nothing", last)
    assert nothing == {"items": [], "next_cursor": None}


# Errors


async def test_unknown_deployment_is_404(client: httpx.AsyncClient) -> None:
    missing = uuid4()
    assert (await client.get(f"{DEPLOYMENTS}/{missing}")).status_code == 404
    for action, body in [("staging", {}), ("production", {}), ("rollback", {"reason": "x"})]:
        response = await client.post(f"{DEPLOYMENTS}/{missing}/{action}", json=body)
        assert response.status_code == 404, action


@pytest.mark.parametrize(
    ("steps", "action", "body", "status"),
    [
        ([], "production", {"outcome": "succeeded"}, "pending"),
        ([], "rollback", {"reason": "x"}, "pending"),
        (["staging"], "staging", {"outcome": "started"}, "staged"),
        (["staging", "production"], "staging", {"outcome": "succeeded"}, "live"),
        (["staging", "rollback"], "rollback", {"reason": "again"}, "rolled_back"),
    ],
)
async def test_forbidden_step_is_409_naming_the_current_status(
    client: httpx.AsyncClient, steps: list[str], action: str, body: dict[str, str], status: str
) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    for step in steps:
        if step == "rollback":
            await roll_back(client, deployment_id)
        else:
            await report(client, deployment_id, step)
    refused = ok(await client.post(f"{DEPLOYMENTS}/{deployment_id}/{action}", json=body), 409)
    assert (refused["error"], refused["current_status"]) == ("invalid_transition", status)


@pytest.mark.parametrize(
    "body",
    [
        DEPLOYMENT | {"git_commit_sha": "xyz"},
        DEPLOYMENT | {"service_name": ""},
        DEPLOYMENT | {"environment": "prod"},
        {k: v for k, v in DEPLOYMENT.items() if k != "service_version"},
    ],
    ids=["bad sha", "empty service", "extra field", "missing version"],
)
async def test_invalid_deployment_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await client.post(DEPLOYMENTS, json=body)).status_code == 422


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("staging", {"outcome": "done"}),
        ("production", {"outcome": "succeeded", "extra": 1}),
        ("staging", {"metrics": {"p99": "slow"}}),
        ("rollback", {}),
        ("rollback", {"reason": ""}),
    ],
)
async def test_invalid_report_is_422(
    client: httpx.AsyncClient, action: str, body: dict[str, Any]
) -> None:
    deployment_id = (await create_deployment(client))["deployment_id"]
    response = await client.post(f"{DEPLOYMENTS}/{deployment_id}/{action}", json=body)
    assert response.status_code == 422
