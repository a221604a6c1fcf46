"""The native queue path: agents that speak NATS send requests to `jetdeck.queue.<op>`.

Same bodies, same answers and the same events as the HTTP routes, because both call the same
QueueService. Every answer is JSON with a `status` (HTTP-like code); errors carry `error` and
`detail`, so bad input gets a clear answer, never silence.

Run: `python -m workers.gateway` (JETDECK_* settings as for the API); `make run` starts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import orjson
from faststream import FastStream
from faststream.nats import NatsBroker, NatsMessage
from pydantic import ValidationError

from api.errors import status_of
from api.routes.queue import ClaimRequest, CompleteRequest, FailRequest, LeaseCall, claim_answer
from domain.errors import JetDeckError
from domain.job import Job
from domain.recorded import Cause
from infra.commands import Committed
from infra.services import Services, open_services
from infra.settings import Settings

SUBJECTS = "jetdeck.queue.*"
Reply = dict[str, Any]


class JobLease(LeaseCall):
    job_id: UUID


class JobComplete(CompleteRequest):
    job_id: UUID


class JobFail(FailRequest):
    job_id: UUID


def _cause(action: str) -> Cause:
    command_id = uuid4().hex
    return Cause(actor="gateway", command_id=command_id, action=action, correlation_id=command_id)


def _job(result: Committed[Job]) -> Reply:
    job = result.aggregate
    return {"status": 200, "job_id": str(job.id), "job_status": job.status, "seq": result.seq}


async def claim(services: Services, body: bytes) -> Reply:
    req = ClaimRequest.model_validate_json(body)
    grant = await services.queue.claim(req.agent_id, req.agent_id, req.pool, req.labels, req.wait_s)
    if grant is None:
        return {"status": 204}
    return {"status": 200} | claim_answer(grant).model_dump(mode="json")


async def heartbeat(services: Services, body: bytes) -> Reply:
    req = JobLease.model_validate_json(body)
    state = await services.queue.heartbeat(req.job_id, req.claim_token)
    expires = state.lease_expires_at.isoformat() if state.lease_expires_at else None
    return {
        "status": 200,
        "job_status": state.status,
        "cancelled": state.cancelled,
        "lease_expires_at": expires,
    }


async def start(services: Services, body: bytes) -> Reply:
    req = JobLease.model_validate_json(body)
    return _job(await services.queue.start(_cause("job.start"), req.job_id, req.claim_token))


async def complete(services: Services, body: bytes) -> Reply:
    req = JobComplete.model_validate_json(body)
    result = await services.queue.complete(
        _cause("job.complete"),
        req.job_id,
        req.claim_token,
        req.exit_code,
        req.summary,
        req.log_url,
        req.artifact_urls,
        req.status,
    )
    return _job(result)


async def fail(services: Services, body: bytes) -> Reply:
    req = JobFail.model_validate_json(body)
    result = await services.queue.fail(
        _cause("job.fail"),
        req.job_id,
        req.claim_token,
        req.error,
        req.failure_class,
        req.retryable,
        req.exit_code,
    )
    return _job(result)


async def release(services: Services, body: bytes) -> Reply:
    req = JobLease.model_validate_json(body)
    return _job(await services.queue.release(_cause("job.release"), req.job_id, req.claim_token))


OPERATIONS: dict[str, Callable[[Services, bytes], Awaitable[Reply]]] = {
    "claim": claim,
    "heartbeat": heartbeat,
    "start": start,
    "complete": complete,
    "fail": fail,
    "release": release,
}


async def dispatch(services: Services, operation: str, body: bytes) -> Reply:
    """Run one request; every failure becomes an answer with a status, as at the HTTP edge."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        return {"status": 404, "error": "UnknownOperation", "detail": f"no operation {operation!r}"}
    try:
        return await handler(services, body)
    except (ValidationError, orjson.JSONDecodeError) as exc:
        return {"status": 422, "error": "ValidationError", "detail": str(exc)}
    except JetDeckError as exc:
        return {"status": status_of(exc), "error": type(exc).__name__, "detail": str(exc)}


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    broker = NatsBroker(settings.server_urls)
    state: dict[str, Services] = {}

    @broker.subscriber(SUBJECTS, queue="jetdeck-gateway")
    async def gateway(msg: NatsMessage) -> Reply:
        operation = msg.raw_message.subject.rsplit(".", 1)[-1]
        return await dispatch(state["services"], operation, msg.body)

    app = FastStream(broker)

    @app.on_startup
    async def open_services_first() -> None:
        state["services"] = await open_services(settings, "jetdeck-gateway")

    @app.after_shutdown
    async def close_services() -> None:
        await state["services"].close()

    return app


def main() -> None:
    asyncio.run(create_app().run())


if __name__ == "__main__":
    main()
