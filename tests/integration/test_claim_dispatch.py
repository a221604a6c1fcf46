"""Claims through the pool's dispatcher (infra/claims.py): one pull per new job however many
claims wait, several jobs in one claim, no history read for a fresh ticket, and a claim whose
lease cannot be written leaves the job queued. Checked against the event log and against the
pull and read requests the server receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from nats.aio.client import Client

from domain.commands.results import ClaimGrant
from domain.errors import UnavailableError
from domain.job import Job
from domain.job_status import JobStatus
from infra.embedded_server import EmbeddedServer
from infra.layout import LEASES, QUEUE
from infra.services import Services
from tests.integration.helpers import requests_to
from tests.queue_helpers import (
    enqueue,
    events,
    eventually,
    job_log,
    own_connections,
    queue_holds,
    queue_services,
)

WAITING = 20


@pytest.fixture(params=[0, 8], ids=["holding none", "holding 8"])
async def api(
    fresh_server: EmbeddedServer, request: pytest.FixtureRequest
) -> AsyncIterator[Services]:
    """With no tickets held for the next claims and with the default 8. Rechecks far apart, so
    the only pulls are the ones new tickets cause."""
    async with queue_services(fresh_server.url, claim_poll_s=5, claim_prefetch=request.param) as (
        services,
    ):
        yield services


@contextmanager
def waiting_claims(
    services: Services, count: int
) -> Iterator[list[asyncio.Task[ClaimGrant | None]]]:
    tasks = [
        asyncio.create_task(services.queue.claim(f"agent-{n}", "default", frozenset(), 10.0))
        for n in range(count)
    ]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()


async def test_a_new_job_costs_one_pull_however_many_claims_wait(
    api: Services, admin_nc: Client
) -> None:
    await enqueue(api)  # the pool's consumers exist, its first job taken
    assert await api.queue.claim("agent-0", "default", frozenset(), 1.0) is not None
    dispatcher = api.queue.dispatchers.of("default")
    with waiting_claims(api, WAITING) as tasks:

        async def all_waiting() -> bool:
            return len(dispatcher.waiters) == WAITING and not any(t.done() for t in tasks)

        await eventually(all_waiting, 5, "every claim waiting")
        async with requests_to(admin_nc, f"$JS.API.CONSUMER.MSG.NEXT.{QUEUE}.>") as pulls:
            job_id = await enqueue(api)

            async def one_granted() -> bool:
                return sum(t.done() for t in tasks) == 1

            await eventually(one_granted, 5, "one claim granted")
        granted = next(t.result() for t in tasks if t.done())
        assert isinstance(granted, ClaimGrant)
        assert granted.job.id == job_id
        assert len(pulls) == 1, pulls
        assert len(dispatcher.waiters) == WAITING - 1, "the others still wait"


async def test_a_claim_of_several_takes_what_is_there_at_once(api: Services) -> None:
    jobs = [await enqueue(api) for _ in range(5)]
    await queue_holds(api, 5)  # "at once" is what QUEUE holds: under load it lags EVENTS
    first = await api.queue.claim_many("agent-1", "default", frozenset(), 1.0, max_jobs=3)
    rest = await api.queue.claim_many("agent-1", "default", frozenset(), 1.0, max_jobs=5)
    assert [g.job.id for g in first] == jobs[:3], "in the order they were queued"
    assert [g.job.id for g in rest] == jobs[3:]
    claimed = events(await job_log(api.store), Job.Claimed)
    assert sorted(str(e.originator_id) for e in claimed) == sorted(map(str, jobs))
    assert {e.agent_id for e in claimed} == {"agent-1"}


async def test_a_fresh_ticket_is_claimed_without_reading_the_jobs_history(
    api: Services, admin_nc: Client
) -> None:
    job_id = await enqueue(api)
    async with (
        own_connections(api, 1) as (queue,),  # an empty history cache: nothing known
        requests_to(admin_nc, "$JS.API.DIRECT.GET.>") as reads,
        requests_to(admin_nc, "$JS.API.STREAM.INFO.>") as infos,
    ):
        grant = await queue.claim("agent-1", "default", frozenset(), 1.0)
        assert isinstance(grant, ClaimGrant)
        assert grant.job.id == job_id
        assert grant.job.status is JobStatus.CLAIMED
    assert [s for s in reads + infos if "EVENTS" in s] == []


async def test_a_claim_whose_lease_is_not_stored_leaves_the_job_queued(
    api: Services, admin_nc: Client
) -> None:
    job_id = await enqueue(api)
    js = admin_nc.jetstream()
    kept = (await js.stream_info(LEASES)).config
    await js.delete_stream(LEASES)
    try:
        with pytest.raises(UnavailableError):
            await api.queue.claim("agent-1", "default", frozenset(), 1.0)
    finally:
        await js.add_stream(kept)
    log = await job_log(api.store)
    assert len(events(log, Job.Claimed, job_id)) == 1
    assert len(events(log, Job.Released, job_id)) == 1
    job = (await api.queue.load(job_id)).aggregate
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0), "no attempt spent"

    async def claimable() -> bool:
        grant = await api.queue.claim("agent-2", "default", frozenset(), 0.5)
        return grant is not None and grant.job.id == job_id

    await eventually(claimable, 40, "the job claimable again")
