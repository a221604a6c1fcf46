"""A batch enqueue through the client, blocking and with asyncio: each job answered, a retry
under the same key finding the same jobs, a bad batch refused before it is sent."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest
from pydantic import ValidationError

from client import ApiError, JetDeck, RetryPolicy
from domain.job_status import JobStatus
from tests.client.helpers import GIT, Counting, Deck, done
from tests.tokens import ADMIN_TOKEN
from wire.batch import BatchEnqueued
from wire.queue import EnqueueRequest

UNKNOWN_ID = "6b270f22-4b9d-53c5-a517-58d818e9964b"


def new_job(command: str) -> EnqueueRequest:
    return EnqueueRequest(
        job_type="build",
        git_repo=GIT.repo,
        git_ref=GIT.ref,
        git_commit_sha=GIT.commit_sha,
        command=command,
        pool=f"batch-{uuid4().hex[:8]}",
    )


async def test_a_batch_answers_each_job_and_a_retry_finds_the_same_ones(
    decks: Callable[[str], Deck],
) -> None:
    deck = decks(ADMIN_TOKEN)
    batch = [new_job("make build"), new_job("make test"), EnqueueRequest(job_id=UNKNOWN_ID)]
    key = f"nightly-{uuid4().hex}"
    first = await done(deck.enqueue_batch(batch, idempotency_key=key))
    assert isinstance(first.value, BatchEnqueued)
    assert [j.status for j in first.value.jobs] == [201, 201, 404]
    assert first.value.jobs[2].error == "not_found"
    assert first.idempotency_key == key
    assert first.seq == max(j.seq or 0 for j in first.value.jobs)
    again = await done(deck.enqueue_batch(batch, idempotency_key=key))
    assert [j.job_id for j in again.value.jobs] == [j.job_id for j in first.value.jobs]
    assert [j.existing for j in again.value.jobs[:2]] == [True, True]
    job_id = first.value.jobs[0].job_id
    assert job_id is not None
    seen = await done(deck.get_job(job_id, min_seq=first.seq))
    assert seen.status == JobStatus.QUEUED


async def test_a_batch_without_the_permission_is_refused(decks: Callable[[str], Deck]) -> None:
    admin = decks(ADMIN_TOKEN)
    issued = await done(admin.create_token(f"viewer-{uuid4().hex[:8]}", ["viewer"]))
    await done(admin.summary(min_seq=issued.seq))  # the API knows the token
    viewer = decks(issued.value.token)
    with pytest.raises(ApiError) as refused:
        await done(viewer.enqueue_batch([new_job("make build")]))
    assert refused.value.status == 403


def test_an_empty_batch_raises_before_any_request() -> None:
    counting = Counting()
    deck = JetDeck("http://jetdeck", retry=RetryPolicy(attempts=1), transport=counting)
    with deck, pytest.raises(ValidationError):
        deck.enqueue_batch([])
    assert counting.sent == 0
