"""The native queue path: agents that speak NATS send requests to `jetdeck.queue.<op>`.

Same bodies, same answers and the same events as the HTTP routes, because both build the same
commands and send them through `infra.dispatch.handle`. Every answer is JSON with a `status`
(HTTP-like code); errors carry `error` and `detail`, so bad input gets a clear answer, never
silence.

Run: `python -m workers.gateway` (JETDECK_* settings as for the API); `make run` starts it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Any
from uuid import UUID

from faststream import FastStream
from faststream.nats import NatsBroker
from pydantic import BaseModel, Field

from domain.commands.base import Command, CommandContext
from domain.commands.leases import ReleaseJob, RenewLease, StartJob
from domain.commands.results import ClaimGrant, Committed, LeaseState
from domain.identity import Permission
from infra.connection import broker_security
from infra.dispatch import handle
from infra.logging_setup import broker_logger
from infra.services import Services, open_services
from infra.settings import Settings
from wire.common import IdempotencyKey
from wire.queue import (
    ClaimAnswer,
    ClaimRequest,
    ClaimsAnswer,
    ClaimsRequest,
    CompleteRequest,
    FailRequest,
    LeaseCall,
)
from workers import native_beats, service_commands
from workers.native_auth import native_context
from workers.native_errors import Reply, error_reply
from workers.process import run_app
from workers.responder import INBOXES, Responder

SUBJECT_PREFIX = "jetdeck.queue."
SUBJECTS = f"{SUBJECT_PREFIX}*"
QUEUE_GROUP = "jetdeck-gateway"
MAX_IN_FLIGHT = 8192
"""Claims long-poll for up to 30 s, each a task waiting for work: beyond this many calls at once,
a call is answered 503 at once instead of queueing."""


class Native(BaseModel, ABC):
    """What every native request may carry besides its HTTP body."""

    agent_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """The agent's token, as `Authorization: Bearer` over HTTP; required."""
    idempotency_key: IdempotencyKey | None = None
    """As the `Idempotency-Key` header over HTTP: a retry answers as the first request did."""

    async def context(self, services: Services, operation: str) -> CommandContext:
        """Only an agent's token opens the agents' path."""
        body = self.model_dump_json(exclude={"agent_token", "idempotency_key"})
        subject = f"{SUBJECT_PREFIX}{operation}"
        return await native_context(
            services, self.agent_token, Permission.AGENT, subject, body, self.idempotency_key
        )

    @abstractmethod
    def to_command(self) -> Command[Any]: ...


class NativeClaim(ClaimRequest, Native):
    def to_command(self) -> Command[Any]:
        return self.as_command()


class NativeClaims(ClaimsRequest, Native):
    def to_command(self) -> Command[Any]:
        return self.as_command()


class JobLease(LeaseCall, Native):
    job_id: UUID


class JobStart(JobLease):
    def to_command(self) -> Command[Any]:
        return StartJob(self.job_id, self.claim_token)


class JobHeartbeat(JobLease):
    def to_command(self) -> Command[Any]:
        return RenewLease(self.job_id, self.claim_token)


class JobRelease(JobLease):
    def to_command(self) -> Command[Any]:
        return ReleaseJob(self.job_id, self.claim_token)


class JobComplete(CompleteRequest, JobLease):
    def to_command(self) -> Command[Any]:
        return self.as_command(self.job_id)


class JobFail(FailRequest, JobLease):
    def to_command(self) -> Command[Any]:
        return self.as_command(self.job_id)


OPERATIONS: dict[str, type[Native]] = {
    "claim": NativeClaim,
    "claims": NativeClaims,
    "heartbeat": JobHeartbeat,
    "start": JobStart,
    "complete": JobComplete,
    "fail": JobFail,
    "release": JobRelease,
}


def answer(
    result: ClaimGrant | list[ClaimGrant] | LeaseState | Committed[Any] | None,
) -> Reply:
    """A handler's result as the native reply: the HTTP answer's fields, and a status."""
    if result is None:
        return {"status": 204}
    if isinstance(result, ClaimGrant):
        return {"status": 200} | ClaimAnswer.of(result).model_dump(mode="json")
    if isinstance(result, list):
        return {"status": 200} | ClaimsAnswer.of(result).model_dump(mode="json")
    if isinstance(result, LeaseState):
        expires = result.lease_expires_at.isoformat() if result.lease_expires_at else None
        return {
            "status": 200,
            "job_status": result.status,
            "cancelled": result.cancelled,
            "lease_expires_at": expires,
        }
    job = result.aggregate
    return {"status": 200, "job_id": str(job.id), "job_status": job.status, "seq": result.seq}


async def dispatch(services: Services, operation: str, body: bytes) -> Reply:
    """Run one request; every failure becomes an answer with a status, as at the HTTP edge."""
    request = OPERATIONS.get(operation)
    if request is None:
        return {"status": 404, "error": "not_found", "detail": f"no operation {operation!r}"}
    context: CommandContext | None = None
    try:
        native = request.model_validate_json(body)
        context = await native.context(services, operation)
        return answer(await handle(services, native.to_command(), context))
    except Exception as exc:  # the caller gets an answer whatever happened
        return error_reply(exc, operation, context.key if context else None)


def responder(services: Services) -> Responder:
    async def answer(subject: str, body: bytes) -> Reply:
        return await dispatch(services, subject.rsplit(".", 1)[-1], body)

    return Responder(services.nc, SUBJECTS, QUEUE_GROUP, answer, INBOXES, MAX_IN_FLIGHT)


def create_app(settings: Settings | None = None) -> FastStream:
    """The agents' operations, their heartbeats and services' commands, each a `Responder` on
    plain nats-py (FastStream runs the process: its start, stop and logging)."""
    settings = settings or Settings()
    broker = NatsBroker(
        settings.server_urls,
        security=broker_security(settings.nats_login),
        logger=broker_logger(),
    )
    state: dict[str, Services] = {}
    responders: list[Responder] = []
    app = FastStream(broker)

    @app.on_startup
    async def open_services_first() -> None:
        services = state["services"] = await open_services(
            settings, "jetdeck-gateway", dashboard=False
        )
        responders.extend(
            [
                responder(services),
                native_beats.responder(services),
                service_commands.responder(services, INBOXES),
            ]
        )
        for started in responders:
            await started.start()

    @app.after_shutdown
    async def close_services() -> None:
        for started in responders:
            await started.stop()
        await state["services"].close()

    return app


def main() -> None:
    run_app("gateway", create_app)


if __name__ == "__main__":
    main()
