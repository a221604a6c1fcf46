"""The event store on a real server: optimistic concurrency per aggregate and atomic batches."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from domain.job import Job
from domain.job_status import JobStatus
from infra.commands import CommandRunner
from infra.event_store import AppendConflictError, EventStore, Outgoing
from infra.unit_of_work import UnitOfWork, load_history
from tests.integration.helpers import GIT, cause, create_job, message_count, start_job


async def loaded(store: EventStore, job: Job) -> tuple[UnitOfWork, Job]:
    """A unit of work holding `job` as it is now in the log."""
    uow = UnitOfWork(store, cause("test"))
    return uow, await uow.get(Job, job.id)


async def test_append_conflicts_when_expected_sequence_is_stale(
    store: EventStore, commands: CommandRunner
) -> None:
    job = (await create_job(commands)).aggregate
    first, mine = await loaded(store, job)
    second, theirs = await loaded(store, job)
    mine.start("agent-1")
    assert await first.commit() == 2
    theirs.complete(JobStatus.CANCELLED)
    with pytest.raises(AppendConflictError):
        await second.commit()
    history = await load_history(store, "job", job.id)
    assert [r.type for r in history] == ["job.Created", "job.Started"]
    assert await message_count(store) == 2


async def test_expected_sequence_is_per_aggregate(
    store: EventStore, commands: CommandRunner
) -> None:
    job = (await create_job(commands)).aggregate
    uow, same = await loaded(store, job)
    await create_job(commands)  # another aggregate moves the stream on
    same.start("agent-1")
    assert await uow.commit() == 3


async def test_new_aggregate_conflicts_when_its_subject_is_taken(
    store: EventStore, commands: CommandRunner
) -> None:
    job_id = uuid4()
    await create_job(commands, job_id)
    uow = UnitOfWork(store, cause("job.create"))
    uow.add(Job.create(job_id, "test", GIT, {}))
    with pytest.raises(AppendConflictError):
        await uow.commit()
    assert await message_count(store) == 1


async def test_batch_across_two_aggregates_appends_every_event_in_order(
    store: EventStore, commands: CommandRunner
) -> None:
    old = (await create_job(commands)).aggregate
    uow, job = await loaded(store, old)
    job.start("agent-1")
    job.complete(JobStatus.SUCCESS)
    new = Job.create(uuid4(), "test", GIT, {})
    uow.add(new)
    assert await uow.commit() == 4
    old_history = await load_history(store, "job", old.id)
    new_history = await load_history(store, "job", new.id)
    assert [r.seq for r in old_history] == [1, 2, 3]
    assert [r.seq for r in new_history] == [4]
    assert old_history[1].prev == old_history[0].hash


@pytest.mark.parametrize("stale_first", [True, False], ids=["stale-first", "stale-last"])
async def test_batch_stores_nothing_when_one_expectation_is_stale(
    store: EventStore, commands: CommandRunner, stale_first: bool
) -> None:
    old = (await create_job(commands)).aggregate
    uow = UnitOfWork(store, cause("test"))
    new = Job.create(uuid4(), "test", GIT, {})
    new.start("agent-1")
    if not stale_first:
        uow.add(new)
    stale = await uow.get(Job, old.id)
    if stale_first:
        uow.add(new)
    await start_job(commands, old.id)  # someone else moves `old` on
    stale.complete(JobStatus.CANCELLED)
    before = await message_count(store)
    with pytest.raises(AppendConflictError):
        await uow.commit()
    assert await message_count(store) == before == 2
    assert await load_history(store, "job", new.id) == []


async def test_store_load_pages_past_one_direct_get_batch(store: EventStore) -> None:
    count = 1005
    await asyncio.gather(*(store.js.publish(f"ev.test.{n % 2}.x", b"%d" % n) for n in range(count)))
    everything = await store.load("ev.>")
    assert [m.seq for m in everything] == list(range(1, count + 1))
    odd = await store.load("ev.test.1.>", after_seq=500)
    assert [m.seq for m in odd] == list(range(502, count + 1, 2))


async def test_single_append_returns_its_sequence(store: EventStore) -> None:
    message = Outgoing("ev.test.a.x", b"{}", msg_id="m1", expect_seq=0, expect_filter="ev.test.a.>")
    assert await store.append([message]) == 1
    assert await store.last_seq() == 1
