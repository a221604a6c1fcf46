"""Workers keep only the read models they read: not the job board or the statistics, which
grow with every job ever run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.job_status import JobStatus
from infra.embedded_server import EmbeddedServer
from infra.read_models import DASHBOARD_ONLY
from infra.services import Services, open_services
from infra.settings import Settings
from tests.integration.helpers import complete_job, create_job, start_job


@pytest.fixture
async def worker(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    opened = await open_services(Settings(nats_url=fresh_server.url), "worker", dashboard=False)
    yield opened
    await opened.close()


async def test_a_worker_replays_the_log_but_feeds_no_dashboard_model(
    worker: Services,
) -> None:
    finished = (await create_job(worker.commands)).aggregate.id
    await start_job(worker.commands, finished)
    await complete_job(worker.commands, finished, JobStatus.SUCCESS)
    running = (await create_job(worker.commands)).aggregate.id
    await start_job(worker.commands, running)
    await worker.runner.catch_up(10)

    assert {m.name for m in worker.runner.models}.isdisjoint(DASHBOARD_ONLY)
    assert worker.views.jobs.jobs == {}
    assert worker.views.stats.status_of == {}
    assert worker.runner.position > 0
    assert worker.runner.faults == 0
