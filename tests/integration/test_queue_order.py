"""Which job a claim gets, and when: priority then arrival, delayed jobs, retry backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.commands.results import ClaimGrant
from domain.job import Job
from domain.job_reports import FailureReport
from domain.queue import PRIORITY_ORDER, FailureClass
from infra.embedded_server import EmbeddedServer
from infra.layout import QUEUE
from infra.services import Services
from tests.queue_helpers import (
    cause,
    claim,
    enqueue,
    events,
    eventually,
    job_log,
    must_claim,
    queue_services,
    stream_messages,
    utcnow,
)

BASE_S = 1.0
JITTER = 0.25
INTERLEAVED = ["low", "normal", "critical", "high", "low", "critical", "normal", "high", "low"]


@pytest.fixture
async def api(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    async with queue_services(fresh_server.url, retry_base_s=BASE_S, retry_jitter=JITTER) as (
        services,
    ):
        yield services


async def tickets(api: Services, expected: int) -> None:
    async def landed() -> bool:
        return await stream_messages(api, QUEUE) == expected

    await eventually(landed, 5, f"{expected} tickets in QUEUE")


async def claimed_ids(api: Services, count: int) -> list[UUID]:
    return [(await must_claim(api.queue)).job.id for _ in range(count)]


async def test_claims_take_the_highest_priority_first_and_arrival_order_within_it(
    api: Services,
) -> None:
    jobs = [(priority, await enqueue(api, priority=priority)) for priority in INTERLEAVED]
    await tickets(api, len(jobs))
    expected = [job for level in PRIORITY_ORDER for p, job in jobs if p == level]
    assert await claimed_ids(api, len(jobs)) == expected
    assert await claim(api.queue) is None


async def test_a_job_queued_later_at_a_higher_priority_overtakes_waiting_ones(
    api: Services,
) -> None:
    low_1, normal = await enqueue(api, priority="low"), await enqueue(api, priority="normal")
    await tickets(api, 2)
    assert await claimed_ids(api, 1) == [normal]
    low_2 = await enqueue(api, priority="low")
    high = await enqueue(api, priority="high")
    critical = await enqueue(api, priority="critical")
    await tickets(api, 5)
    assert await claimed_ids(api, 4) == [critical, high, low_1, low_2]


async def claimed_at(api: Services, job_id: UUID, attempt: int) -> datetime:
    log = await job_log(api.store)
    return events(log, Job.Claimed, job_id)[attempt - 1].timestamp


async def claim_only_from(api: Services, job_id: UUID, instant: datetime) -> ClaimGrant:
    """Nobody gets the job until `instant`; a claim waiting past it gets it within 1 s."""
    early = (instant - utcnow()).total_seconds() - 0.3
    assert await claim(api.queue, "early-agent", wait_s=max(early, 0)) is None
    grant = await claim(api.queue, "on-time-agent", wait_s=(instant - utcnow()).total_seconds() + 1)
    assert grant is not None, "the job did not come back within 1 s of its time"
    assert grant.job.id == job_id
    taken = await claimed_at(api, job_id, grant.job.attempts)
    assert instant <= taken <= instant + timedelta(seconds=1)
    return grant


async def test_a_delayed_job_is_handed_out_from_its_run_at_on(api: Services) -> None:
    run_at = utcnow() + timedelta(seconds=2)
    job_id = await enqueue(api, run_at=run_at)
    await claim_only_from(api, job_id, run_at)


async def test_a_retryable_failure_comes_back_after_exponential_backoff_with_jitter(
    api: Services,
) -> None:
    job_id = await enqueue(api, max_attempts=3)
    grant = await must_claim(api.queue, "on-time-agent")
    for attempt in (1, 2):
        assert grant.job.attempts == attempt
        report = FailureReport(error="flaky", failure_class=FailureClass.INFRA, retryable=True)
        await api.queue.fail(cause("job.fail"), job_id, grant.token, report)
        failed = events(await job_log(api.store), Job.Failed, job_id)[-1]
        retry_at = failed.retry_at
        assert retry_at is not None
        nominal = BASE_S * 2 ** (attempt - 1)
        delay = (retry_at - failed.timestamp).total_seconds()
        assert nominal * (1 - JITTER) - 0.01 <= delay <= nominal * (1 + JITTER)
        grant = await claim_only_from(api, job_id, retry_at)
    assert grant.job.attempts == 3
