"""Native heartbeats: an agent that speaks NATS beats with a request to `SUBJECT`.

The body is the HTTP heartbeat's plus `agent_id` and `agent_token` (checked exactly as the
gateway's `jetdeck.queue.*` operations check it); the command, its handler and the answer are the
HTTP route's, with `status` the answer's code and the agent's own status as `agent_status`.
Errors answer with `status`, `error` and `detail`, never silence.
The subject sits under `jetdeck.queue.>`, the one prefix the `agent` NATS user may publish to,
one token deeper than the gateway's operations so neither hears the other's requests.

Plain nats-py rather than a FastStream subscriber: at tens of thousands of beats a second its
per-message middleware and logging would cost more than the beat. A subscription's callback runs
one message at a time, so each request runs in a task of its own: a beat awaits its batch's ack
(infra.beat_writer), and beats in flight together share one write. The gateway process serves it.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from domain.commands.base import CommandContext
from domain.commands.fleet import HeartbeatAgent
from domain.errors import UnauthorizedError
from domain.identity import Permission
from infra.authn import INVALID_CREDENTIALS
from infra.dispatch import handle
from infra.services import Services
from wire.agents import AgentHeartbeatAnswer, HeartbeatRequest
from workers.native_errors import Reply, error_reply
from workers.responder import INBOXES, Responder

SUBJECT = "jetdeck.queue.agent.heartbeat"
QUEUE_GROUP = "jetdeck-beats"
MAX_IN_FLIGHT = 8192
"""Beyond this many beats at once, a beat is answered 503 at once instead of queueing."""


class NativeBeat(HeartbeatRequest):
    agent_id: UUID
    agent_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """The agent's token, as `Authorization: Bearer` over HTTP; required."""

    async def context(self, services: Services) -> CommandContext:
        """As an HTTP heartbeat's: the agent, no idempotency key (a beat is never replayed)."""
        if self.agent_token is None:
            raise UnauthorizedError(INVALID_CREDENTIALS)
        principal = await services.authn.principal(self.agent_token)
        principal.require(Permission.AGENT)
        return CommandContext(principal, None, None)


async def answer_beat(services: Services, body: bytes) -> Reply:
    """One beat's answer; every failure becomes an answer with a status, as at the HTTP edge."""
    try:
        beat = NativeBeat.model_validate_json(body)
        context = await beat.context(services)
        command = HeartbeatAgent(str(beat.agent_id), beat.metrics(), beat.running_jobs)
        beaten = await handle(services, command, context)
    except Exception as exc:  # the agent gets an answer whatever happened
        return error_reply(exc, "heartbeat", None)
    answer = AgentHeartbeatAnswer.of(beaten).model_dump(mode="json")
    return {"status": 200, "agent_status": answer.pop("status")} | answer


def responder(services: Services) -> Responder:
    async def answer(_: str, body: bytes) -> Reply:
        return await answer_beat(services, body)

    return Responder(services.nc, SUBJECT, QUEUE_GROUP, answer, INBOXES, MAX_IN_FLIGHT)
