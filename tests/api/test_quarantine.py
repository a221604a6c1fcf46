"""Forged and foreign messages on a job's subject are quarantined: the job keeps working, and
the quarantine shows in `GET /api/audit/quarantine` and `/api/health`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from nats.aio.client import Client

from infra.codec import seal
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.services import Services
from tests.api.helpers import JOBS, create_job, ok, start_job
from tests.queue_helpers import QUEUE_API, eventually, post_job

GARBAGE = b"not an event"


@pytest.fixture
async def attacker(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await connect(fresh_server.admin_url, "attacker")
    yield client
    await client.close()


def forged(job_id: str) -> tuple[str, bytes]:
    """A well-formed Started sealed with a key that is not the writer key."""
    envelope = {
        "type": "job.Started",
        "v": 1,
        "actor": "attacker",
        "command_id": "x",
        "action": "job.start",
        "correlation_id": "x",
        "prev": "0" * 64,
        "data": {"originator_id": job_id, "originator_version": 2, "agent_id": "evil"},
    }
    subject = f"ev.job.{job_id}.started"
    return subject, seal(subject, orjson.dumps(envelope), b"k" * 32)


async def quarantined(client: httpx.AsyncClient, count: int) -> list[dict[str, object]]:
    async def reached() -> bool:
        found: int = ok(await client.get("/api/audit/quarantine"))["count"]
        return found >= count

    await eventually(reached, 5, f"{count} events quarantined")
    events: list[dict[str, object]] = ok(await client.get("/api/audit/quarantine"))["events"]
    return events


async def test_garbage_and_forgery_on_a_job_do_not_brick_it(
    client: httpx.AsyncClient, services: Services, attacker: Client
) -> None:
    job_id = (await create_job(client))["job_id"]
    js = attacker.jetstream()
    garbage = await js.publish(f"ev.job.{job_id}.started", GARBAGE)
    forgery = await js.publish(*forged(job_id))
    started = await start_job(client, job_id)
    assert started["status"] == "running"
    audit = ok(await client.get(f"/api/audit/job/{job_id}"))
    assert audit["chain_valid"]
    assert [e["type"] for e in audit["events"]] == ["job.Created", "job.Started"]
    view = ok(await client.get(f"{JOBS}/{job_id}", params={"min_seq": started["seq"]}))
    assert view["agent_id"] == "agent-1"
    events = await quarantined(client, 2)
    assert [(e["seq"], e["subject"]) for e in events] == [
        (garbage.seq, f"ev.job.{job_id}.started"),
        (forgery.seq, f"ev.job.{job_id}.started"),
    ]
    assert "MAC" in str(events[1]["reason"])
    health = ok(await client.get("/api/health"))
    assert (health["quarantined_events"], health["last_quarantined_seq"]) == (2, forgery.seq)
    assert health["alarms"]


async def test_a_queued_job_with_garbage_after_it_can_be_cancelled(
    client: httpx.AsyncClient, attacker: Client
) -> None:
    job_id = (await post_job(client))["job_id"]
    await attacker.jetstream().publish(f"ev.job.{job_id}.cancelled", GARBAGE)
    cancelled = ok(await client.post(f"{QUEUE_API}/jobs/{job_id}/cancel"))
    assert cancelled["status"] == "cancelled"
