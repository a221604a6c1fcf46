"""`GET /metrics` scraped as Prometheus would: every listed family is there, and each moves when
its event happens. Counters are the process's own, so each test compares before and after."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import AppendConflictError, Outgoing
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import create_job, ok
from tests.queue_helpers import eventually, http_agent, post_job, queue_settings
from tests.tokens import ADMIN_TOKEN

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
FAMILIES = {
    "jetdeck_http_request_duration_seconds",
    "jetdeck_events_appended",
    "jetdeck_append_conflicts",
    "jetdeck_claim_wait_seconds",
    "jetdeck_claim_to_complete_seconds",
    "jetdeck_queue_depth",
    "jetdeck_queue_oldest_wait_seconds",
    "jetdeck_leases_expired",
    "jetdeck_dead_letters",
    "jetdeck_agents",
    "jetdeck_read_model_lag_events",
    "jetdeck_read_model_position",
    "jetdeck_skipped_foreign_events",
}


@pytest.fixture
def settings(fresh_server: EmbeddedServer) -> Settings:
    return queue_settings(fresh_server.url, expected_workers=[], retry_base_s=0.2)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = ok_text(await client.get("/metrics"))
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response)
        for sample in family.samples
    }


def ok_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def moved(
    client: httpx.AsyncClient, name: str, labels: dict[str, str], act: Callable[[], Awaitable[None]]
) -> float:
    """How much the sample moved while `act` ran."""
    before = value(await scrape(client), name, **labels)
    await act()
    return value(await scrape(client), name, **labels) - before


async def test_every_listed_family_is_served(client: httpx.AsyncClient) -> None:
    await post_job(client)
    await http_agent(client, "agent-1")
    text = ok_text(await client.get("/metrics"))
    served = {family.name for family in text_string_to_metric_families(text)}
    assert served >= FAMILIES


async def test_the_dashboard_charts_only_served_families(
    client: httpx.AsyncClient, services: Services
) -> None:
    await post_job(client)
    await http_agent(client, "agent-1")
    await services.runner.save_snapshot()
    samples = await scrape(client)
    served = {name for name, _ in samples} | {
        f"{family.name}{suffix}"
        for family in text_string_to_metric_families(ok_text(await client.get("/metrics")))
        for suffix in ("", "_bucket", "_count", "_sum", "_total")
    }
    panels = json.loads(DASHBOARD.read_text())["panels"]
    charted = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"jetdeck_[a-z_]+", target["expr"])
    }
    assert len(charted) >= len(FAMILIES)
    assert charted <= served, charted - served


async def test_metrics_ask_for_a_reader(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://jetdeck") as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://jetdeck", headers=headers
    ) as admin:
        assert (await admin.get("/metrics")).status_code == 200


async def test_creating_a_job_counts_its_append(client: httpx.AsyncClient) -> None:
    async def create() -> None:
        await create_job(client)

    assert await moved(client, "jetdeck_events_appended_total", {"kind": "job"}, create) == 1


async def test_a_stale_expected_sequence_counts_a_conflict(
    client: httpx.AsyncClient, services: Services
) -> None:
    async def stale_append() -> None:
        subject = f"ev.job.{uuid4()}.created"
        message = Outgoing(subject, b"{}", uuid4().hex, 5, subject.rsplit(".", 1)[0] + ".>")
        with pytest.raises(AppendConflictError):
            await services.store.append([message])

    conflicts = "jetdeck_append_conflicts_total"
    assert await moved(client, conflicts, {"kind": "job"}, stale_append) == 1


async def test_claim_and_complete_fill_their_histograms(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "agent-1")
    wait = ("jetdeck_claim_wait_seconds_count", {"pool": "default", "priority": "normal"})
    held = ("jetdeck_claim_to_complete_seconds_count", {"pool": "default", "outcome": "success"})
    before = await scrape(client)
    await post_job(client)
    job_id = await agent.must_claim()
    ok(await agent.complete(job_id))
    after = await scrape(client)
    for name, labels in (wait, held):
        assert value(after, name, **labels) - value(before, name, **labels) == 1, name


async def test_queue_depth_and_oldest_wait_come_from_the_read_models(
    client: httpx.AsyncClient,
) -> None:
    job = await post_job(client, pool="gauged", priority="high")
    await client.get("/api/queue/stats", params={"min_seq": job["seq"]})
    samples = await scrape(client)
    level = {"pool": "gauged", "priority": "high"}
    assert value(samples, "jetdeck_queue_depth", **level) == 1
    assert value(samples, "jetdeck_queue_oldest_wait_seconds", **level) >= 0
    assert value(samples, "jetdeck_queue_depth", pool="gauged", priority="low") == 0


async def test_an_expired_lease_and_a_dead_letter_are_counted(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "agent-1")
    before = await scrape(client)
    await post_job(client, lease_s=1, max_attempts=1)
    await agent.must_claim()

    async def dead_lettered() -> bool:
        samples = await scrape(client)
        dead = {"pool": "default", "priority": "normal"}
        return value(samples, "jetdeck_dead_letters_total", **dead) > value(
            before, "jetdeck_dead_letters_total", **dead
        )

    await eventually(dead_lettered, 10, "the lapsed lease's job dead-lettered")
    after = await scrape(client)
    expired = {"reason": "lease expired"}
    lost = value(after, "jetdeck_leases_expired_total", **expired)
    assert lost - value(before, "jetdeck_leases_expired_total", **expired) == 1


async def test_agents_are_counted_by_status(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "gauged-agent", pool="agents-gauge")
    samples = await scrape(client)
    assert value(samples, "jetdeck_agents", pool="agents-gauge", status="healthy") == 1
    drained = ok(await client.post(f"/api/agents/{agent.agent_id}/drain", json={}))
    await client.get("/api/agents", params={"min_seq": drained["seq"]})
    samples = await scrape(client)
    assert value(samples, "jetdeck_agents", pool="agents-gauge", status="healthy") == 0
    assert value(samples, "jetdeck_agents", pool="agents-gauge", status="draining") == 1


async def test_requests_are_timed_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await create_job(client))["job_id"]
    route = {"method": "GET", "route": "/api/dashboard/jobs/{job_id}", "status": "200"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    count = "jetdeck_http_request_duration_seconds_count"

    async def two_calls() -> None:
        ok(await client.get(f"/api/dashboard/jobs/{job_id}"))
        assert (await client.get(f"/nowhere/{uuid4()}")).status_code == 404

    before = await scrape(client)
    await two_calls()
    after = await scrape(client)
    for labels in (route, unmatched):
        assert value(after, count, **labels) - value(before, count, **labels) == 1, labels
    assert not any(job_id in dict(labels).get("route", "") for _, labels in after)


async def test_read_model_lag_snapshot_age_and_skipped_events(
    client: httpx.AsyncClient, services: Services, fresh_server: EmbeddedServer
) -> None:
    samples = await scrape(client)
    assert value(samples, "jetdeck_read_model_position") == services.runner.position
    assert ("jetdeck_read_model_lag_events", frozenset()) in samples
    await services.runner.save_snapshot()
    assert ("jetdeck_read_model_snapshot_age_seconds", frozenset()) in await scrape(client)
    foreign = {"source": "events"}
    skipped = "jetdeck_skipped_foreign_events_total"
    before = value(samples, skipped, **foreign)
    admin = await connect(fresh_server.admin_url, "foreigner")
    try:
        await admin.jetstream().publish(f"ev.job.{uuid4()}.created", b"not an event")
    finally:
        await admin.close()

    async def counted() -> bool:
        return value(await scrape(client), skipped, **foreign) == before + 1

    await eventually(counted, 5, "the foreign message counted")
