"""The dead-letter handler removes a ticket a crash left behind and announces the dead letter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import orjson
import pytest
from nats.aio.msg import Msg

from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import FailureClass, QueueSpec
from domain.recorded import Cause
from domain.values import GitContext
from infra.embedded_server import EmbeddedServer
from infra.layout import QUEUE
from infra.services import Services, open_services
from infra.settings import Settings
from infra.unit_of_work import UnitOfWork
from workers.dead_letters import NOTIFY, create_app, ticket_source_seq

GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")


def cause(action: str) -> Cause:
    command_id = uuid4().hex
    return Cause("test", command_id, action, command_id)


@pytest.fixture
async def services(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    found = await open_services(Settings(nats_url=fresh_server.url), "test")
    yield found
    await found.close()


async def notices(services: Services) -> asyncio.Queue[dict[str, object]]:
    received: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def collect(msg: Msg) -> None:
        await received.put(orjson.loads(msg.data))

    await services.nc.subscribe(NOTIFY, cb=collect)
    return received


async def dead_letter_behind_the_queues_back(services: Services) -> UUID:
    """Claim a job, then dead-letter it the way a process that died before +TERM would."""
    queued = await services.queue.enqueue(cause("enqueue"), uuid4(), "t", GIT, {}, QueueSpec())
    grant = await services.queue.claim("a", "default", frozenset(), wait_s=5)
    assert grant is not None

    async def decide(_: UnitOfWork, job: Job) -> None:
        job.fail("boom", FailureClass.INFRA, False, 1, grant.lease_expires_at)

    await services.commands.update(cause("fail"), Job, queued.aggregate.id, decide)
    return queued.aggregate.id


async def queue_size(services: Services) -> int:
    return (await services.nc.jetstream().stream_info(QUEUE)).state.messages


async def test_a_ticket_left_behind_is_removed_and_the_dead_letter_announced(
    services: Services, fresh_server: EmbeddedServer
) -> None:
    received = await notices(services)
    job_id = await dead_letter_behind_the_queues_back(services)
    assert await queue_size(services) == 1
    async with create_app(Settings(nats_url=fresh_server.url)):
        notice = await asyncio.wait_for(received.get(), 10)
    assert notice["job_id"] == str(job_id)
    assert notice["ticket_removed"] is True
    assert "not retryable" in str(notice["reason"])
    assert await queue_size(services) == 0


async def test_a_retried_dead_letter_keeps_its_new_ticket(
    services: Services, fresh_server: EmbeddedServer
) -> None:
    received = await notices(services)
    job_id = await dead_letter_behind_the_queues_back(services)
    js = services.nc.jetstream()
    old = await js.get_last_msg(QUEUE, f"q.default.normal.{job_id}")
    await js.delete_msg(QUEUE, old.seq or 0)  # as the +TERM would have
    retried = await services.queue.retry_dead_letter(cause("retry"), job_id, "again")
    assert retried.aggregate.status is JobStatus.QUEUED
    await asyncio.sleep(0.5)  # the server copies the new ticket into QUEUE
    async with create_app(Settings(nats_url=fresh_server.url)):
        notice = await asyncio.wait_for(received.get(), 10)
    assert notice["ticket_removed"] is False
    assert await queue_size(services) == 1


def test_ticket_source_seq_reads_the_source_header() -> None:
    header = {"Nats-Stream-Source": "EVENTS 42 ev.job.*.queued.*.* q.x ev.job.1.queued.a.b X"}
    assert ticket_source_seq(header) == 42
    assert ticket_source_seq({}) is None
    assert ticket_source_seq({"Nats-Stream-Source": "EVENTS nope"}) is None
