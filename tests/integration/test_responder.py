"""A request/reply service on a real server, as it stops: what is in flight is answered, and
what is still running once the grace is over (a claim long-polling) is answered 503, not left
to time out."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client

from tests.integration.helpers import ask
from workers.native_errors import Reply
from workers.responder import INBOXES, STOPPING, Responder

SUBJECT = "jetdeck.test.responder"
"""Under `jetdeck.`: what JetDeck's own NATS user may publish to."""


class Answers:
    """Answers a request when `release` is set; `started` once one is being answered."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, subject: str, body: bytes) -> Reply:
        self.started.set()
        await self.release.wait()
        return {"status": 200}


async def one_in_flight(nc: Client) -> tuple[Answers, Responder, asyncio.Task[dict[str, Any]]]:
    """A responder answering one request, held until `release`."""
    answers = Answers()
    responder = Responder(nc, SUBJECT, "q", answers.answer, INBOXES, 10)
    await responder.start()
    waiting = asyncio.create_task(ask(nc, SUBJECT, {}))
    await asyncio.wait_for(answers.started.wait(), 10)
    return answers, responder, waiting


async def test_a_request_still_running_after_the_grace_is_answered_503(nc: Client) -> None:
    _, responder, waiting = await one_in_flight(nc)
    await responder.stop(grace_s=0.1)
    assert await waiting == STOPPING


async def test_a_request_done_within_the_grace_gets_its_own_answer(nc: Client) -> None:
    answers, responder, waiting = await one_in_flight(nc)
    stopping = asyncio.create_task(responder.stop(grace_s=30))
    answers.release.set()
    await stopping
    assert await waiting == {"status": 200}
