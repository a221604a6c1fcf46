"""The projection runner on a real server: snapshot then tail on restart, garbage skipped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest

from domain.commands.base import CommandContext
from domain.commands.deployments import STAGES
from domain.deployment import Deployment, Environment, Outcome
from domain.errors import UnavailableError
from domain.identity import Principal, PrincipalKind, Role
from domain.job_status import JobStatus
from infra.codec import decode
from infra.commands import CommandRunner
from infra.dispatch import handle
from infra.embedded_server import EmbeddedServer
from infra.event_store import StoredMessage
from infra.services import Services, open_services
from infra.settings import Settings
from infra.unit_of_work import UnitOfWork
from tests.integration.helpers import GIT, cause, complete_job, create_job, start_job, state_of


@pytest.fixture
def settings(fresh_server: EmbeddedServer) -> Settings:
    return Settings(nats_url=fresh_server.url, snapshot_every=100)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    opened = await open_services(settings, "jetdeck-test")
    yield opened
    await opened.close()


async def job_lifecycle(commands: CommandRunner, n: int) -> None:
    """Three events: created, started, and finished with an outcome that depends on `n`."""
    job_id = (await create_job(commands)).aggregate.id
    await start_job(commands, job_id)
    await complete_job(commands, job_id, [JobStatus.SUCCESS, JobStatus.FAILED][n % 2])


async def create_deployment(commands: CommandRunner, service: str) -> Deployment:
    async def make(_: UnitOfWork) -> Deployment:
        return Deployment.create(uuid4(), service, "v1", GIT)

    return (await commands.create(cause("deployment.create"), make)).aggregate


async def write(services: Services, jobs: int) -> None:
    await asyncio.gather(*(job_lifecycle(services.commands, n) for n in range(jobs)))
    await create_deployment(services.commands, f"svc-{jobs}")


def replayed_from_scratch(services: Services, messages: list[StoredMessage]) -> dict[str, Any]:
    """Fresh read models of the same kinds as `services`' ones, fed from sequence 1."""
    models = [type(model)() for model in services.views.all()]
    for message in messages:
        recorded = decode(message.seq, message.subject, message.payload)
        for model in models:
            model.apply(recorded)
    return state_of(models)


def dumps(services: Services) -> dict[str, Any]:
    return state_of(services.views.all())


async def test_restart_loads_the_snapshot_then_the_tail(settings: Settings) -> None:
    first = await open_services(settings, "before-restart", snapshots=True)
    await write(first, jobs=80)
    await first.runner.catch_up(10)
    await first.runner.stop()  # waits for an automatic snapshot in flight
    assert first.runner.snapshot_seq >= 100
    await first.runner.save_snapshot()
    covered = first.runner.snapshot_seq
    assert covered == first.runner.position == await first.store.last_seq() == 241
    await write(first, jobs=10)  # the tail, shorter than snapshot_every
    await first.close()

    second = await open_services(settings, "after-restart")
    try:
        assert second.runner.snapshot_seq == covered
        assert second.runner.position == await second.store.last_seq() == covered + 31
        everything = await second.store.load("ev.>")
        assert dumps(second) == replayed_from_scratch(second, everything)
    finally:
        await second.close()


async def test_garbage_on_an_event_subject_is_skipped(services: Services) -> None:
    await services.nc.jetstream().publish("ev.job.x.y", b"garbage")
    committed = await create_job(services.commands)
    await services.runner.wait_for(committed.seq, 5)
    assert services.runner.skipped == 1
    assert services.runner.position == committed.seq == 2
    assert services.views.jobs.get(str(committed.aggregate.id)) is not None


async def test_wait_for_a_sequence_not_yet_written_is_unavailable(services: Services) -> None:
    with pytest.raises(UnavailableError, match="not yet at 5"):
        await services.runner.wait_for(5, timeout_s=0.05)


async def test_timed_out_and_cancelled_waits_leave_no_waiter_behind(services: Services) -> None:
    runner = services.runner
    live = asyncio.create_task(runner.wait_for(runner.position + 1, timeout_s=60))
    cancelled = asyncio.create_task(runner.wait_for(runner.position + 100, timeout_s=60))
    for _ in range(3):
        with pytest.raises(UnavailableError):
            await runner.wait_for(runner.position + 50, timeout_s=0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert [seq for seq, _, _ in runner._waiters] == [runner.position + 1]

    await create_job(services.commands)  # the heap still wakes the live waiter
    await asyncio.wait_for(live, 10)
    assert runner._waiters == []


DEPLOYER = Principal(PrincipalKind.SERVICE, "release", frozenset({Role.DEPLOYER}))


async def test_snapshot_is_saved_while_a_deployment_is_live(services: Services) -> None:
    deployment = await create_deployment(services.commands, "api")
    for env in Environment:
        report = STAGES[env](deployment.id, Outcome.SUCCEEDED)
        await handle(services, report, CommandContext(DEPLOYER, None, None))
    await services.runner.catch_up(5)
    await services.runner.save_snapshot()
    assert services.runner.snapshot_seq == services.runner.position == 5


async def test_a_writer_saves_over_a_connection_of_its_own_while_it_follows(
    settings: Settings,
) -> None:
    """Its round trips would otherwise wait behind the follow's window of events in flight."""
    writer = await open_services(settings, "picture-writer", snapshots=True)
    try:
        snapshots = writer.runner.snapshots
        uploads = snapshots.js._nc
        assert uploads is not writer.nc
        assert uploads.is_connected
        assert uploads.options["name"] == "picture-writer pictures"
        await write(writer, jobs=40)
        await writer.runner.catch_up(10)
        await writer.runner.save_snapshot()
        assert [n.seq for n in await snapshots.names()][-1] == writer.runner.position
        await writer.runner.stop()
        assert uploads.is_closed
        assert snapshots.js._nc is writer.nc
    finally:
        await writer.close()


async def test_a_writer_stopped_while_a_picture_goes_up_still_closes_its_connection(
    settings: Settings,
) -> None:
    """A caller's deadline cancels the stop while it waits for the picture."""
    writer = await open_services(settings, "stopped-writer", snapshots=True)
    snapshots = writer.runner.snapshots
    uploads = snapshots.js._nc
    going_up, released = asyncio.Event(), asyncio.Event()
    put = snapshots.put

    async def held(seq: int, picture: bytes) -> Any:
        going_up.set()
        await released.wait()
        return await put(seq, picture)

    snapshots.put = held  # type: ignore[method-assign]
    try:
        await write(writer, jobs=40)
        await asyncio.wait_for(going_up.wait(), 10)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.runner.stop(), 0.5)
        assert uploads.is_closed
        assert snapshots.js._nc is writer.nc
    finally:
        released.set()
        await writer.close()
