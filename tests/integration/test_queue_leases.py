"""Leases across two API processes: a silent agent loses its job to another within lease + 2 s,
and heartbeats keep a lease alive for as long as they come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from domain.commands.results import ClaimGrant
from domain.errors import InvalidTransitionError
from domain.job import Job
from domain.job_reports import FailureReport
from domain.job_status import JobStatus
from domain.queue import FailureClass
from infra.embedded_server import EmbeddedServer
from infra.layout import EVENTS, LEASES
from infra.services import Services
from tests.queue_helpers import (
    cause,
    claim,
    complete,
    enqueue,
    events,
    eventually,
    job_log,
    must_claim,
    queue_services,
    stream_messages,
)

LEASE_S = 2
HEARTBEAT_LEASE_S = 5


@pytest.fixture
async def pair(fresh_server: EmbeddedServer) -> AsyncIterator[list[Services]]:
    """Two API processes; a short ack_wait, so the crash backstop is exercised too."""
    async with queue_services(fresh_server.url, 2, queue_ack_wait_s=3) as both:
        yield both


async def test_a_silent_agent_loses_the_job_to_another_within_lease_plus_two_seconds(
    pair: list[Services],
) -> None:
    one, two = pair
    job_id = await enqueue(one, lease_s=LEASE_S)
    first = await must_claim(one.queue, "agent-a")
    second = await claim(two.queue, "agent-b", wait_s=LEASE_S + 2)
    assert second is not None, "no other agent got the job within lease + 2 s"
    assert (second.job.id, second.job.attempts) == (job_id, 2)
    log = await job_log(one.store)
    lost = events(log, Job.AttemptLost, job_id)
    assert [(e.attempt, e.agent_id, e.reason) for e in lost] == [(1, "agent-a", "lease expired")]
    taken, again = events(log, Job.Claimed, job_id)
    assert [taken.agent_id, again.agent_id] == ["agent-a", "agent-b"]
    held = again.timestamp - taken.timestamp
    assert timedelta(seconds=LEASE_S) <= held <= timedelta(seconds=LEASE_S + 2)
    await fenced_off(one, first)
    assert (await complete(two.queue, second)).aggregate.status is JobStatus.SUCCESS


async def fenced_off(api: Services, late: ClaimGrant) -> None:
    """The late agent reports to the process that granted its claim (and may remember the job
    as it was then): refused, and nothing is appended."""
    before = await stream_messages(api, EVENTS)
    with pytest.raises(InvalidTransitionError):
        await complete(api.queue, late)
    with pytest.raises(InvalidTransitionError):
        await api.queue.heartbeat(late.job.id, late.token)
    assert await stream_messages(api, EVENTS) == before


async def test_heartbeats_keep_a_five_second_lease_alive_for_twenty_seconds(
    pair: list[Services],
) -> None:
    one, two = pair
    job_id = await enqueue(one, lease_s=HEARTBEAT_LEASE_S)
    grant = await must_claim(one.queue, "agent-a")
    rival = asyncio.create_task(claim(two.queue, "agent-b", wait_s=20))
    while not rival.done():
        await asyncio.sleep(1.5)
        state = await one.queue.heartbeat(job_id, grant.token)
        assert (state.status, state.cancelled) == (JobStatus.CLAIMED, False)
    assert await rival is None
    assert (await complete(one.queue, grant)).aggregate.status is JobStatus.SUCCESS
    log = await job_log(one.store)
    assert events(log, Job.AttemptLost, job_id) == []
    assert len(events(log, Job.Claimed, job_id)) == 1


async def test_an_ended_attempt_leaves_no_lease(pair: list[Services]) -> None:
    """A failure that queues the job again removes its lease before the ticket goes back; a
    completion removes it after the answer. Either way none is left to run out."""
    one, _ = pair
    retried, finished = await enqueue(one, max_attempts=3), await enqueue(one)
    grants = {g.job.id: g for g in [await must_claim(one.queue), await must_claim(one.queue)]}
    assert await lease_subjects(one) == {f"lease.{retried}", f"lease.{finished}"}
    report = FailureReport(error="flaky", failure_class=FailureClass.INFRA, retryable=True)
    failed = await one.queue.fail(cause("job.fail"), retried, grants[retried].token, report)
    assert failed.aggregate.status is JobStatus.QUEUED
    assert await lease_subjects(one) == {f"lease.{finished}"}, "gone before the ack"
    await complete(one.queue, grants[finished])

    async def none_left() -> bool:
        return await lease_subjects(one) == set()

    await eventually(none_left, 5, "the finished job's lease removed")


async def lease_subjects(api: Services) -> set[str]:
    info = await api.nc.jetstream().stream_info(LEASES, subjects_filter="lease.>")
    return set(info.state.subjects or {})
