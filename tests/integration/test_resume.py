"""A process of the API's kind starts from its own store file when its last run closed cleanly
on the same log and code, and from the pictures otherwise: after a kill, on another stream, or
under another code version. Each start answers as a full replay of the log."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.job_status import JobStatus
from infra import projection_runner
from infra.embedded_server import EmbeddedServer
from infra.services import Services, open_services
from infra.settings import Settings
from tests.conftest import laid_out_server
from tests.integration.helpers import complete_job, create_job, start_job
from tests.integration.test_projection_runner import dumps, replayed_from_scratch

API = "jetdeck-api-resume"

KILLED_CHILD = f"""
import asyncio, sys
from pathlib import Path
from infra.services import open_services
from infra.settings import Settings

async def main():
    settings = Settings(nats_url=sys.argv[1], data_dir=Path(sys.argv[2]))
    services = await open_services(settings, {API!r})
    print(services.runner.resumed_at, flush=True)
    seq = int(await asyncio.to_thread(sys.stdin.readline))
    await services.runner.wait_for(seq, timeout_s=30)
    print(services.runner.position, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@pytest.fixture
def settings(fresh_server: EmbeddedServer, tmp_path: Path) -> Settings:
    return Settings(nats_url=fresh_server.url, data_dir=tmp_path / "data", snapshot_every=100)


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[Services]:
    """Writes while the API is down: a process without the dashboard's models, as a gateway."""
    opened = await open_services(settings, "jetdeck-writer", dashboard=False)
    yield opened
    await opened.close()


async def jobs(services: Services, finished: int, in_flight: int) -> None:
    for n in range(finished + in_flight):
        job_id = (await create_job(services.commands)).aggregate.id
        await start_job(services.commands, job_id)
        if n < finished:
            await complete_job(
                services.commands, job_id, [JobStatus.SUCCESS, JobStatus.FAILED][n % 2]
            )


async def closed_after(settings: Settings, finished: int, in_flight: int) -> int:
    """An API that writes jobs and closes cleanly; the sequence it parked at."""
    api = await open_services(settings, API, snapshots=True)
    await jobs(api, finished, in_flight)
    await api.runner.catch_up(10)
    parked = api.runner.position
    await api.close()
    return parked


async def answers_as_a_full_replay(services: Services) -> None:
    await services.runner.catch_up(10)
    everything = await services.store.load("ev.>")
    assert services.runner.position == everything[-1].seq
    assert dumps(services) == replayed_from_scratch(services, everything)


async def starts_over(settings: Settings, own_jobs: int = 0) -> None:
    """The API of that name starts from the pictures, not its file, and answers as a full
    replay, after `own_jobs` more of its own."""
    api = await open_services(settings, API)
    try:
        assert (api.kept, api.runner.resumed_at) == (True, None)
        await jobs(api, finished=own_jobs, in_flight=1)
        await answers_as_a_full_replay(api)
    finally:
        await api.close()


async def test_a_clean_restart_starts_from_its_file_then_the_tail(
    settings: Settings, writer: Services
) -> None:
    parked = await closed_after(settings, finished=60, in_flight=7)
    await jobs(writer, finished=5, in_flight=2)  # while it is down

    api = await open_services(settings, API, snapshots=True)
    try:
        assert api.runner.resumed_at == parked
        assert api.runner.position > parked
        assert api.views.jobs.finished is not None
        assert api.views.jobs.finished.count() == 65
        await answers_as_a_full_replay(api)
    finally:
        await api.close()


async def test_a_file_left_by_a_killed_process_is_not_started_from(
    settings: Settings, writer: Services
) -> None:
    """The killed process had resumed from the point, then stored more rows past it."""
    await closed_after(settings, finished=20, in_flight=3)
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", KILLED_CHILD, settings.server_url, str(settings.data_dir)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert (await child.stdout.readline()).strip() != b"None", "the child resumed"
        await jobs(writer, finished=10, in_flight=1)
        last = await writer.store.last_seq()
        child.stdin.write(f"{last}\n".encode())
        assert int(await child.stdout.readline()) == last
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    await starts_over(settings)


async def test_a_file_parked_on_another_stream_is_not_started_from(
    settings: Settings, tmp_path: Path
) -> None:
    """Another stream longer than the parked point: its length alone does not tell."""
    parked = await closed_after(settings, finished=15, in_flight=2)
    other = await laid_out_server(tmp_path / "other")
    try:
        elsewhere = settings.model_copy(update={"nats_url": other.url})
        writer = await open_services(elsewhere, "jetdeck-writer", dashboard=False)
        await jobs(writer, finished=30, in_flight=2)
        assert await writer.store.last_seq() > parked
        await writer.close()
        await starts_over(elsewhere)
    finally:
        await other.stop()


async def test_a_file_parked_by_other_code_is_not_started_from(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await closed_after(settings, finished=15, in_flight=2)
    monkeypatch.setattr(projection_runner, "code_version", lambda: "another-version")
    await starts_over(settings)


async def test_a_second_live_process_of_the_name_keeps_a_scratch_file(settings: Settings) -> None:
    first = await open_services(settings, API)
    second = await open_services(settings, API)
    try:
        assert (first.kept, second.kept) == (True, False)
        await jobs(second, finished=4, in_flight=1)
        await answers_as_a_full_replay(first)
        await answers_as_a_full_replay(second)
    finally:
        await second.close()
        await first.close()


async def test_a_file_that_is_no_database_is_started_afresh(settings: Settings) -> None:
    kept = settings.data_dir / "read-models" / f"finished-jobs-{API}.sqlite3"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"not a database, a disk's fault " * 200)
    await starts_over(settings, own_jobs=3)
