"""Retries resend the same key and so never write twice; refusals are raised at once."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from client import ApiError, AsyncJetDeck, JetDeck, RetryPolicy, UnreachableError
from client._http import KEY_HEADER, wait_before_retry
from infra.embedded_server import EmbeddedServer, free_port
from infra.services import Services
from infra.unit_of_work import load_history
from tests.api.helpers import message_count
from tests.client.helpers import GIT, Counting
from tests.e2e.conftest import Api
from tests.tokens import ADMIN_TOKEN

QUICK = RetryPolicy(attempts=20, base_s=0.05, cap_s=0.2)


class Watched(httpx.AsyncBaseTransport):
    """The in-process app, with the key and status of every exchange on record."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.keys: list[str | None] = []
        self.statuses: list[int] = []
        self.unavailable = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get(KEY_HEADER))
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        if response.status_code == 503:
            self.unavailable.set()
        return response


@pytest.mark.parametrize("settings", [{"write_timeout_s": 0.3}], indirect=True)
async def test_a_write_nats_does_not_confirm_is_retried_with_its_key_and_lands_once(
    fresh_server: EmbeddedServer, app: FastAPI, services: Services
) -> None:
    transport = Watched(app)
    count = await message_count(services)
    deck = AsyncJetDeck("http://jetdeck", ADMIN_TOKEN, retry=QUICK, transport=transport)
    async with deck:
        with fresh_server.paused():
            write = asyncio.create_task(deck.create_job("test", GIT))
            await transport.unavailable.wait()
        created = await write
    assert (transport.statuses[0], transport.statuses[-1]) == (503, 201)
    assert len(set(transport.keys)) == 1
    assert created.idempotency_key == transport.keys[0]
    history = await load_history(services.store, "job", created.value.job_id)
    assert [r.type for r in history] == ["job.Created"]
    assert await message_count(services) == count + 1


def test_a_refusal_raises_the_servers_problem_without_a_retry(api: Api) -> None:
    counting = Counting()
    with JetDeck(api.url, ADMIN_TOKEN, retry=QUICK, transport=counting) as deck:
        with pytest.raises(ApiError) as missing:
            deck.start_job(uuid4())
        with pytest.raises(ApiError) as invalid:
            deck.start_job("not-a-job-id")
    assert counting.sent == 2
    assert (missing.value.status, missing.value.error) == (404, "not_found")
    assert str(missing.value.problem["instance"]).endswith("/start")
    assert (invalid.value.status, invalid.value.error) == (422, "validation_error")
    assert [e["loc"] for e in invalid.value.errors] == [["path", "job_id"]]
    assert invalid.value.detail


def test_a_refused_connection_is_retried_then_raised() -> None:
    counting = Counting()
    policy = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02)
    deck = JetDeck(f"http://127.0.0.1:{free_port()}", retry=policy, transport=counting)
    with deck, pytest.raises(UnreachableError) as raised:
        deck.create_job("test", GIT)
    assert counting.sent == 3
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_a_claim_is_sent_again_only_when_it_never_reached_the_server() -> None:
    policy = RetryPolicy(attempts=3)
    busy = httpx.Response(503, headers={"Retry-After": "0"})
    lost_answer = httpx.ReadTimeout("no answer")
    refused = httpx.ConnectError("refused")
    assert wait_before_retry(policy, 0, busy, repeatable=False) is None
    assert wait_before_retry(policy, 0, lost_answer, repeatable=False) is None
    assert wait_before_retry(policy, 0, refused, repeatable=False) is not None
    assert wait_before_retry(policy, 0, busy) is not None  # any other write: same key, resent
