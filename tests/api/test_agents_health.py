"""Heartbeat metrics drive an agent's health; only a change of health becomes an event."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from domain.health import HealthPolicy
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import ok
from tests.api.test_agents_support import AGENTS, fleet, health_changes

LOADS = [10, 20, 85, 90, 95, 99, 84.9, 50, 50]
STATUSES = ["healthy"] * 2 + ["degraded"] * 2 + ["unhealthy"] * 2 + ["healthy"] * 3
CHANGES = [
    ("healthy", ""),
    ("degraded", "mem at 85% (degraded from 85%)"),
    ("unhealthy", "mem at 95% (unhealthy from 95%)"),
    ("healthy", ""),
]


async def test_a_new_agent_is_registering_until_its_first_heartbeat(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    async with fleet(app) as agents:
        agent, answer = await agents.register("build-1")
    assert answer["status"] == "registering"
    assert answer["heartbeat_interval_s"] == services.settings.health.heartbeat_interval_s
    view = ok(await client.get(f"{AGENTS}/{agent.agent_id}", params={"min_seq": answer["seq"]}))
    assert (view["status"], view["last_heartbeat"]) == ("registering", None)
    assert await health_changes(services.store, agent.agent_id) == []


async def test_metrics_move_the_status_and_only_changes_are_recorded(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    async with fleet(app) as agents:
        agent, _ = await agents.register("build-1")
        statuses = [await agent.status_after_beat(load) for load in LOADS]
    assert statuses == STATUSES
    assert await health_changes(services.store, agent.agent_id) == CHANGES
    view = ok(await client.get(f"{AGENTS}/{agent.agent_id}"))
    assert (view["health"], view["health_reason"]) == ("healthy", "")


@pytest.mark.parametrize("resource", ["cpu_pct", "mem_pct", "disk_pct"])
async def test_the_busiest_resource_decides(app: FastAPI, resource: str) -> None:
    body = {"cpu_pct": 10.0, "mem_pct": 10.0, "disk_pct": 10.0} | {resource: 96.0}
    async with fleet(app) as agents:
        agent, _ = await agents.register("build-1")
        answer = ok(await agent.client.post(f"{AGENTS}/{agent.agent_id}/heartbeat", json=body))
    assert answer["status"] == "unhealthy"


@pytest.mark.parametrize(
    "settings", [{"health": {"degraded_pct": 50, "unhealthy_pct": 60}}], indirect=True
)
async def test_thresholds_come_from_settings(app: FastAPI) -> None:
    async with fleet(app) as agents:
        agent, _ = await agents.register("build-1")
        statuses = [await agent.status_after_beat(load) for load in (49, 50, 59, 60)]
    assert statuses == ["healthy", "degraded", "degraded", "unhealthy"]


def test_health_policy_reads_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETDECK_HEALTH__DEGRADED_PCT", "70")
    monkeypatch.setenv("JETDECK_HEALTH__HEARTBEAT_INTERVAL_S", "1")
    expected = HealthPolicy(degraded_pct=70, heartbeat_interval_s=1)
    assert Settings().health == expected
