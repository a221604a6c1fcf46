"""A worker serves its own metrics: `python -m workers.health_monitor` with a metrics port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from infra.embedded_server import EmbeddedServer, free_port
from infra.metrics import worker_metrics_port
from infra.settings import Settings
from tests.e2e.conftest import API_ENV, START_WITHIN_S, Proc, spawn


def test_each_expected_worker_gets_a_port_of_its_own() -> None:
    settings = Settings(metrics_port=9100)
    ports = [worker_metrics_port(settings, name) for name in settings.expected_workers]
    assert ports == list(range(9100, 9100 + len(settings.expected_workers)))
    assert worker_metrics_port(settings, "another") is None  # never a listed worker's port
    assert worker_metrics_port(Settings(), "gateway") is None


async def scrape(worker: Proc, url: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_WITHIN_S
    async with httpx.AsyncClient(timeout=2) as client:
        while loop.time() < deadline:
            assert worker.alive, f"the worker exited:\n{worker.output()}"
            try:
                return (await client.get(url)).raise_for_status().text
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    pytest.fail(f"no metrics on {url} within {START_WITHIN_S}s:\n{worker.output()}")


async def test_a_worker_serves_its_metrics_on_its_port(
    nats_server: EmbeddedServer, tmp_path: Path
) -> None:
    port = free_port()
    env = API_ENV | {
        "JETDECK_NATS_URL": nats_server.url,
        "JETDECK_METRICS_PORT": str(port),
        "JETDECK_EXPECTED_WORKERS": '["health_monitor"]',
    }
    args = ["-m", "workers.health_monitor"]
    worker = await spawn("health monitor", args, tmp_path / "worker.log", env)
    try:
        text = await scrape(worker, f"http://127.0.0.1:{port}/metrics")
    finally:
        await worker.stop()
    for family in ("jetdeck_leases_expired_total", "jetdeck_events_appended_total"):
        assert f"# TYPE {family} counter" in text
