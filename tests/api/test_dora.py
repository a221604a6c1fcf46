"""`GET /api/dashboard/metrics/dora` over HTTP on a real nats-server: the figures of deployments
made through the API, worked out from the times the API itself reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    DEPLOYMENTS,
    JOBS,
    create_deployment,
    create_job,
    go_live,
    ok,
    read,
    report,
    roll_back,
)

DORA = "/api/dashboard/metrics/dora"
SERVICE = "dora-svc"


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def live(client: httpx.AsyncClient, sha: str) -> Any:
    return await go_live(client, service_name=SERVICE, git_commit_sha=sha)


async def view(client: httpx.AsyncClient, path: str, after: Any) -> Any:
    return await read(client, path, after)


async def test_the_four_metrics_of_a_service(client: httpx.AsyncClient) -> None:
    job = await create_job(client, git_commit_sha="DA1A1A1")  # any case: one commit
    first = await live(client, "da1a1a1")
    second = await live(client, "db2b2b2")  # no job carried it
    rolled = await roll_back(client, second["deployment_id"])
    third = (await create_deployment(client, service_name=SERVICE, git_commit_sha="dc3c3c3"))[
        "deployment_id"
    ]
    await report(client, third, "staging")
    await report(client, third, "production", "failed")
    fixed = await live(client, "dd4d4d4")
    await create_deployment(client, service_name="other", git_commit_sha="da1a1a1")

    created = when((await view(client, f"{JOBS}/{job['job_id']}", fixed))["created_at"])
    went_live = {}
    for answer in (first, fixed):
        shown = await view(client, f"{DEPLOYMENTS}/{answer['deployment_id']}", fixed)
        went_live[answer["deployment_id"]] = when(
            shown["environments"]["production"]["finished_at"]
        )
    rollback = await view(client, f"{DEPLOYMENTS}/{rolled['deployment_id']}", fixed)
    failure = await view(client, f"{DEPLOYMENTS}/{third}", fixed)
    restored = went_live[fixed["deployment_id"]]
    restores = [
        (restored - when(rollback["rollback"]["at"])).total_seconds(),
        (restored - when(failure["environments"]["production"]["finished_at"])).total_seconds(),
    ]
    lead = (went_live[first["deployment_id"]] - created).total_seconds()

    got = await read(client, DORA, fixed, service=SERVICE, days=7)
    assert (got["service"], got["days"], got["as_of_seq"] >= fixed["seq"]) == (SERVICE, 7, True)
    assert when(got["window_end"]) - when(got["window_start"]) == timedelta(days=7)
    assert got["deployment_frequency"] == {"deployments": 3, "per_day": pytest.approx(3 / 7)}
    assert got["lead_time"] == {
        "changes": 1,
        "without_job": 2,
        "median_s": pytest.approx(lead),
        "p95_s": pytest.approx(lead),
    }
    assert got["change_failure_rate"] == {"deployments": 4, "failed": 2, "rate": 0.5}
    assert got["time_to_restore"] == {
        "failures": 2,
        "restored": 2,
        "median_s": pytest.approx(sum(restores) / 2),
    }


async def test_all_services_by_default_and_nulls_without_deployments(
    client: httpx.AsyncClient,
) -> None:
    empty = ok(await client.get(DORA))
    assert (empty["service"], empty["days"]) == (None, 30)
    assert empty["deployment_frequency"] == {"deployments": 0, "per_day": 0.0}
    assert empty["lead_time"]["median_s"] is None
    assert empty["change_failure_rate"]["rate"] is None
    assert empty["time_to_restore"]["median_s"] is None
    await live(client, "da1a1a1")
    last = await go_live(client, service_name="another", git_commit_sha="db2b2b2")
    both = await read(client, DORA, last, days=90)
    assert both["deployment_frequency"]["deployments"] == 2
    assert both["lead_time"]["without_job"] == 2
    nothing = await read(client, DORA, last, service="never-deployed")
    assert nothing["change_failure_rate"] == {"deployments": 0, "failed": 0, "rate": None}


@pytest.mark.parametrize("days", ["8", "0", "-7", "week", "14"])
async def test_a_window_other_than_7_30_or_90_days_is_a_422(
    client: httpx.AsyncClient, days: str
) -> None:
    answer = await client.get(DORA, params={"days": days})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["query", "days"]


async def test_as_of_ends_the_window_at_that_point(client: httpx.AsyncClient) -> None:
    first = await live(client, "da1a1a1")
    between = datetime.now(UTC)
    last = await live(client, "db2b2b2")
    await read(client, DORA, last)

    at_time = ok(await client.get(DORA, params={"as_of": between.isoformat(), "days": 7}))
    assert when(at_time["window_end"]) == between
    assert when(at_time["window_start"]) == between - timedelta(days=7)
    assert at_time["deployment_frequency"]["deployments"] == 1

    at_seq = ok(await client.get(DORA, params={"as_of": first["seq"]}))
    assert at_seq["as_of_seq"] == first["seq"]
    assert when(at_seq["window_end"]) < when(
        ok(await client.get(DORA, params={"as_of": last["seq"]}))["window_end"]
    )
    assert at_seq["deployment_frequency"]["deployments"] == 1

    future = datetime.now(UTC) + timedelta(days=3)
    now = ok(await client.get(DORA, params={"as_of": future.isoformat()}))
    assert when(now["window_end"]) < future  # a future point gives the present, up to now
    assert now["deployment_frequency"]["deployments"] == 2
