"""An append waits for one deadline, retries included; an unanswered one is an unknown outcome,
and the command's retry finds what landed instead of writing it twice."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from nats.aio.client import Client

from domain.errors import OutcomeUnknownError
from infra.commands import CommandRunner
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from infra.settings import Settings
from infra.unit_of_work import load_history
from tests.integration.helpers import create_job, message_count, start_job


def counting_requests(store: EventStore) -> list[str]:
    """The subjects the store asked JetStream to store, one per attempt."""
    asked: list[str] = []
    request = store.replies.request

    async def counted(
        subject: str, payload: bytes, headers: dict[str, str] | None, timeout_s: float
    ) -> dict[str, Any]:
        asked.append(subject)
        return await request(subject, payload, headers, timeout_s)

    store.replies.request = counted  # type: ignore[method-assign]
    return asked


async def test_an_unanswered_create_is_an_unknown_outcome_and_its_retry_lands_once(
    fresh_server: EmbeddedServer, nc: Client
) -> None:
    store = EventStore(nc, write_timeout_s=0.3)
    await store.key()  # read once, as a process does at start
    commands = CommandRunner(store)
    asked = counting_requests(store)
    job_id = uuid4()
    with fresh_server.paused(), pytest.raises(OutcomeUnknownError):
        await create_job(commands, job_id, command_id="key-1")
    assert len(asked) == 1, "an attempt that got no answer used up the deadline"
    again = await create_job(commands, job_id, command_id="key-1")
    assert again.replayed
    history = await load_history(store, "job", job_id)
    assert [r.type for r in history] == ["job.Created"]
    assert again.seq == history[0].seq
    assert await message_count(store) == 1


async def test_an_unanswered_update_is_retried_into_what_landed(
    fresh_server: EmbeddedServer, nc: Client
) -> None:
    """The runner's cache held the job from before the unconfirmed start: the retry must answer
    with the start that landed, not decide it again."""
    store = EventStore(nc, write_timeout_s=0.3)
    commands = CommandRunner(store)
    job_id = (await create_job(commands)).aggregate.id
    with fresh_server.paused(), pytest.raises(OutcomeUnknownError):
        await start_job(commands, job_id, command_id="key-2")
    again = await start_job(commands, job_id, command_id="key-2")
    assert again.replayed
    history = await load_history(store, "job", job_id)
    assert [r.type for r in history] == ["job.Created", "job.Started"]
    assert await message_count(store) == 2


def test_the_write_deadline_is_bounded() -> None:
    assert Settings().write_timeout_s == 5.0
    for bad in (0, 61):
        with pytest.raises(ValueError, match="write_timeout_s"):
            Settings(write_timeout_s=bad)
