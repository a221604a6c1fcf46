"""A job's detail waits for the event store to hold what the read models show."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.errors import UnavailableError
from infra.embedded_server import EmbeddedServer
from infra.job_detail import history_through
from infra.services import Services, open_services
from infra.settings import Settings
from tests.integration.helpers import create_job, start_job


@pytest.fixture
async def services(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    opened = await open_services(Settings(nats_url=fresh_server.url), "job-detail-test")
    yield opened
    await opened.close()


async def test_the_history_is_read_through_the_asked_sequence(services: Services) -> None:
    job_id = (await create_job(services.commands)).aggregate.id
    started = await start_job(services.commands, job_id)
    events = await history_through(services.store, job_id, started.seq, wait_s=1)
    assert [e.seq for e in events][-1] == started.seq


async def test_a_store_that_never_gets_there_is_unavailable_not_a_short_history(
    services: Services,
) -> None:
    job_id = (await create_job(services.commands)).aggregate.id
    last = await services.store.last_seq()
    with pytest.raises(UnavailableError, match=f"not yet at {last + 5}"):
        await history_through(services.store, job_id, last + 5, wait_s=0.2)
