"""CommandRunner on a real server: idempotent retries and one winner per race."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client

from domain.commands.results import Committed
from domain.errors import ConcurrencyError, IdempotencyKeyReusedError, InvalidTransitionError
from domain.job import Job
from domain.job_status import FINISHED, JobStatus
from infra.commands import CommandRunner
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from infra.unit_of_work import load_history
from tests.integration.helpers import complete_job, create_job, message_count, start_job

RACERS = 32


async def test_retried_create_is_replayed_and_appends_nothing(
    store: EventStore, commands: CommandRunner
) -> None:
    job_id = uuid4()
    first = await create_job(commands, job_id, command_id="key-1")
    again = await create_job(commands, job_id, command_id="key-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.seq == first.seq == 1
    assert again.aggregate.id == job_id
    assert await message_count(store) == 1


async def test_retried_update_is_replayed_as_the_command_left_the_job(
    store: EventStore, commands: CommandRunner
) -> None:
    job_id = (await create_job(commands)).aggregate.id
    started = await start_job(commands, job_id, command_id="key-2")
    await complete_job(commands, job_id)
    again = await start_job(commands, job_id, command_id="key-2")
    assert again.replayed
    assert again.seq == started.seq == 2
    assert again.aggregate.status is JobStatus.RUNNING
    assert await message_count(store) == 3


async def test_reusing_a_command_id_for_another_action_is_refused(
    store: EventStore, commands: CommandRunner
) -> None:
    job_id = (await create_job(commands)).aggregate.id
    await start_job(commands, job_id, command_id="key-3")
    with pytest.raises(IdempotencyKeyReusedError, match="key-3"):
        await complete_job(commands, job_id, command_id="key-3")
    assert await message_count(store) == 2


async def complete_with_own_connection(
    nc: Client, job_id: UUID, status: JobStatus
) -> Committed[Job]:
    return await complete_job(CommandRunner(EventStore(nc)), job_id, status)


async def test_one_of_32_concurrent_completes_wins(
    fresh_server: EmbeddedServer, store: EventStore, commands: CommandRunner
) -> None:
    job_id = (await create_job(commands)).aggregate.id
    await start_job(commands, job_id)
    outcomes = sorted(FINISHED)
    racers = [await connect(fresh_server.url, f"racer-{n}") for n in range(RACERS)]
    try:
        results = await asyncio.gather(
            *(
                complete_with_own_connection(nc, job_id, outcomes[n % len(outcomes)])
                for n, nc in enumerate(racers)
            ),
            return_exceptions=True,
        )
    finally:
        await asyncio.gather(*(nc.close() for nc in racers))
    wins = [r for r in results if isinstance(r, Committed)]
    losses = [r for r in results if not isinstance(r, Committed)]
    assert len(wins) == 1
    assert all(isinstance(e, InvalidTransitionError | ConcurrencyError) for e in losses), losses
    history = await load_history(store, "job", job_id)
    completed = [r for r in history if r.type == "job.Completed"]
    assert len(completed) == 1
    assert isinstance(completed[0].event, Job.Completed)
    assert completed[0].event.status is wins[0].aggregate.status
    assert completed[0].seq == wins[0].seq
    assert await message_count(store) == 3
