"""docker-compose.yml, read as Compose reads it (no Docker daemon here): every NATS node keeps its
store on a named volume and has a healthcheck on its monitoring port, every dependency waits for
a condition, and the layout is `make cluster`'s: three nodes, R3, two API replicas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.embedded_cluster import SIZE
from infra.settings import Settings
from workers.cluster import REPLICAS

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
READY = "/api/health/ready"
CONDITIONS = {"layout": "service_completed_successfully"}
"""The condition a dependency on each service must wait for; service_healthy for the others."""
Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return found


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    found: dict[str, Service] = compose["services"]
    return found


def nodes(services: dict[str, Service]) -> dict[str, Service]:
    return {name: s for name, s in services.items() if s.get("image", "").startswith("nats:")}


def apis(services: dict[str, Service]) -> dict[str, Service]:
    return {
        name: s
        for name, s in services.items()
        if READY in str(s.get("healthcheck", {}).get("test"))
    }


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_each_nats_node_stores_on_a_named_volume_of_its_own(compose: dict[str, Any]) -> None:
    found = nodes(compose["services"])
    assert len(found) == SIZE
    mounts = [node["volumes"] for node in found.values()]
    assert all(len(m) == 1 and m[0].endswith(":/data") for m in mounts), mounts
    volumes = {m[0].split(":")[0] for m in mounts}
    assert len(volumes) == SIZE
    assert volumes <= set(compose["volumes"])
    assert all(flag(node["command"], "-sd") == "/data" for node in found.values())


def test_each_nats_node_is_checked_on_its_monitoring_port_and_routes_to_all(
    services: dict[str, Service],
) -> None:
    found = nodes(services)
    for name, node in found.items():
        command = node["command"]
        assert flag(command, "-n") == name
        port = flag(command, "-m")
        assert f":{port}/healthz" in " ".join(node["healthcheck"]["test"])
        routes = flag(command, "--routes").split(",")
        assert sorted(route.split("//")[1].split(":")[0] for route in routes) == sorted(found)


def test_two_api_replicas_on_make_clusters_ports_one_writing_snapshots(
    services: dict[str, Service],
) -> None:
    found = apis(services)
    port = Settings.model_fields["api_port"].default
    published = sorted(int(p.split(":")[1]) for api in found.values() for p in api["ports"])
    assert published == [port, port + 1]
    writers = [
        a for a in found.values() if a["environment"].get("JETDECK_WRITE_SNAPSHOTS") != "false"
    ]
    assert len(writers) == 1


def test_every_dependency_waits_for_health_or_completion(services: dict[str, Service]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for other, how in depends.items():
            assert other in services
            assert how == {"condition": CONDITIONS.get(other, "service_healthy")}, name
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[other], f"{other} has no healthcheck"


def test_jetdeck_runs_r3_on_every_node_with_every_expected_worker(
    services: dict[str, Service],
) -> None:
    nats_urls = {f"nats://{name}:4222" for name in nodes(services)}
    jetdeck = {
        n: s for n, s in services.items() if s.get("environment", {}).get("JETDECK_NATS_URL")
    }
    for service in jetdeck.values():
        env = service["environment"]
        assert set(env["JETDECK_NATS_URL"].split(",")) == nats_urls
        assert env["JETDECK_REPLICAS"] == str(REPLICAS)
    modules = {" ".join(s.get("command", [])) for s in jetdeck.values()}
    for worker in Settings.model_fields["expected_workers"].default:
        assert f"python -m workers.{worker}" in modules
