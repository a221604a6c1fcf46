"""`jetdeck export` and `jetdeck import`: a log written through the API, exported, imported
into a second nats-server, answers every read the same."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from api.app import create_app
from infra.embedded_server import EmbeddedServer
from infra.settings import Settings
from tests.api.conftest import http_client
from tests.api.helpers import complete_job, create_job, go_live, ok, roll_back, start_job
from tests.cli.conftest import jetdeck
from tests.conftest import laid_out_server
from tests.queue_helpers import http_agent, post_job
from tests.tokens import ADMIN_TOKEN

UNEQUAL = {"/api/health", "/api/health/live", "/api/health/ready", "/metrics"}
"""Their uptime, connection, stream, worker and request figures belong to the process, not to
the log."""
NOT_IN_THE_LOG = {
    "last_heartbeat",
    "last_heartbeat_at",
    "oldest_wait_s",
    "window_start",
    "window_end",
}
"""Heartbeats live in HEARTBEATS (a TTL'd stream, not exported); a queue's oldest wait and the
DORA window are measured from the moment of the read."""


async def write_history(client: httpx.AsyncClient) -> dict[str, str]:
    """Jobs, deployments, agents and pools, through the API; the ids worth a detail read."""
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    await complete_job(client, job_id)
    first = await go_live(client, service_version="v1")
    second = await go_live(client, service_version="v2")
    await roll_back(client, second["deployment_id"])
    ok(await client.post("/api/pools", json={"name": "builds", "max_agents": 3}), 201)
    agent = await http_agent(client, "builder", pool="builds")
    queued = (await post_job(client, pool="builds"))["job_id"]
    ok(await client.post("/api/queue/pools/builds/pause", json={"reason": "freeze"}))
    return {
        "job_id": job_id,
        "queued_id": queued,
        "deployment_id": first["deployment_id"],
        "agent_id": agent.agent_id,
    }


def reads(app: FastAPI, ids: dict[str, str]) -> list[str]:
    """Every GET with no required parameter, and the detail reads of the ids written."""
    paths = []
    for path, operations in app.openapi()["paths"].items():
        get = operations.get("get")
        if get is None or path in UNEQUAL:
            continue
        required = [p for p in get.get("parameters", []) if p.get("required")]
        if not required:
            paths.append(path)
    return [
        *paths,
        f"/api/dashboard/jobs/{ids['job_id']}",
        f"/api/dashboard/jobs/{ids['queued_id']}",
        f"/api/dashboard/jobs/{ids['job_id']}/logs",
        f"/api/dashboard/deployments/{ids['deployment_id']}",
        "/api/dashboard/deployments/service/api-backend",
        f"/api/agents/{ids['agent_id']}",
        f"/api/agents/{ids['agent_id']}/jobs",
        "/api/pools/builds",
        "/api/pools/builds/scaling",
        f"/api/audit/job/{ids['job_id']}",
        f"/api/audit/deployment/{ids['deployment_id']}",
    ]


async def answers(app: FastAPI, paths: list[str], seq: int) -> dict[str, Any]:
    await app.state.services.runner.wait_for(seq, 10)
    async with http_client(app) as client:
        return {path: (r.status_code, r.json()) for path in paths if (r := await client.get(path))}


@pytest.fixture
async def copy_server(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    server = await laid_out_server(tmp_path / "copy")
    yield server
    await server.stop()


@pytest.mark.parametrize("fmt", ["cloudevents", "jsonl"])
async def test_round_trip_answers_every_read_the_same(
    app: FastAPI,
    client: httpx.AsyncClient,
    fresh_server: EmbeddedServer,
    copy_server: EmbeddedServer,
    tmp_path: Path,
    fmt: str,
) -> None:
    ids = await write_history(client)
    exported = await jetdeck("export", "--nats-url", fresh_server.url, "--format", fmt)
    assert exported.exit_code == 0, exported.output
    file = tmp_path / "events.jsonl"
    file.write_text(exported.stdout)
    last = len(exported.stdout.splitlines()) - 1

    imported = await jetdeck("import", file, "--nats-url", copy_server.url, "--json")
    assert imported.exit_code == 0, imported.output
    assert orjson.loads(imported.stdout) == {"imported": last, "last_seq": last}

    again = await jetdeck("export", "--nats-url", copy_server.url, "--format", fmt)
    assert strip_stream_times(again.stdout) == strip_stream_times(exported.stdout)

    copy = create_app(
        Settings(nats_url=copy_server.url, bootstrap_admin_token=ADMIN_TOKEN, expected_workers=[])
    )
    async with copy.router.lifespan_context(copy):
        paths = reads(app, ids)
        restored, original = await answers(copy, paths, last), await answers(app, paths, last)
    assert differences(restored, original) == []


def differences(left: Any, right: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    """Where two JSON answers differ, field by field."""
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted((set(left) | set(right)) - NOT_IN_THE_LOG)
        return [d for k in keys for d in differences(left.get(k), right.get(k), f"{where}/{k}")]
    if (
        isinstance(left, list | tuple)
        and isinstance(right, list | tuple)
        and len(left) == len(right)
    ):
        return [
            d
            for n, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, f"{where}[{n}]")
        ]
    return [] if left == right else [(where, left, right)]


def strip_stream_times(export: str) -> list[dict[str, Any]]:
    """Only the server's own timestamps (and the manifest's moment) are new after an import."""
    lines = [orjson.loads(line) for line in export.splitlines()]
    for line in lines[:-1]:
        line.pop("jdstreamtime", None)
        line.pop("stream_time", None)
    return lines[:-1]


async def test_import_refuses_a_broken_chain_and_writes_nothing(
    client: httpx.AsyncClient,
    fresh_server: EmbeddedServer,
    copy_server: EmbeddedServer,
    tmp_path: Path,
) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    await complete_job(client, job_id)
    lines = (await jetdeck("export", "--nats-url", fresh_server.url)).stdout.splitlines()
    number = next(n for n, text in enumerate(lines, 1) if "job.started" in text)
    line = orjson.loads(lines[number - 1])
    content = orjson.loads(base64.b64decode(line["jdcontent"]))
    content["actor"] = "user:mallory"
    line["jdcontent"] = base64.b64encode(orjson.dumps(content)).decode()
    lines[number - 1] = orjson.dumps(line).decode()
    file = tmp_path / "forged.jsonl"
    file.write_text("\n".join(lines) + "\n")

    refused = await jetdeck("import", file, "--nats-url", copy_server.url)
    assert refused.exit_code == 1
    assert f"line {number}:" in refused.stderr
    empty = await jetdeck("audit", "log", "--nats-url", copy_server.url, "--json")
    assert empty.stdout == ""


async def test_import_refuses_a_store_with_events(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    await create_job(client)
    file = tmp_path / "events.jsonl"
    file.write_text((await jetdeck("export", "--nats-url", fresh_server.url)).stdout)
    refused = await jetdeck("import", file, "--nats-url", fresh_server.url)
    assert refused.exit_code == 2
    assert "already holds" in refused.stderr


async def test_import_refuses_a_truncated_file(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    await create_job(client)
    await create_job(client)
    lines = (await jetdeck("export", "--nats-url", fresh_server.url)).stdout.splitlines()
    file = tmp_path / "cut.jsonl"
    file.write_text("\n".join(lines[1:]) + "\n")
    refused = await jetdeck("import", file, "--nats-url", fresh_server.url)
    assert refused.exit_code == 1
    assert "line 1:" in refused.stderr
