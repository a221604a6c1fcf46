"""The native queue path: agents that speak NATS send requests to `jetdeck.queue.<op>`.

Same bodies, same answers and the same events as the HTTP routes, because both call the same
QueueService. Every answer is JSON with a `status` (HTTP-like code); errors carry `error` and
`detail`, so bad input gets a clear answer, never silence.

Run: `python -m workers.gateway` (JETDECK_* settings as for the API); `make run` starts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import orjson
from faststream import FastStream
from faststream.nats import NatsBroker, NatsMessage
from nats.errors import Error as NatsError
from pydantic import BaseModel, Field, ValidationError

from api.auth import act_on_lease
from api.commands import CommandContext
from api.errors import status_of
from api.idempotency import IdempotencyKey
from api.routes.queue import ClaimRequest, CompleteRequest, FailRequest, LeaseCall, claim_answer
from domain.errors import JetDeckError, UnauthorizedError
from domain.identity import Permission, Principal
from domain.job import Job
from domain.recorded import Cause
from infra.authn import INVALID_CREDENTIALS
from infra.commands import Committed
from infra.connection import broker_security
from infra.nats_auth import AGENT_INBOX
from infra.services import Services, open_services
from infra.settings import Settings

SUBJECTS = "jetdeck.queue.*"
REPLY_PREFIXES = (f"{AGENT_INBOX}.", "_INBOX.")
"""Native agents' inboxes, and those of JetDeck's own processes (nats-py's default prefix)."""
CONCURRENCY = 256
log = logging.getLogger(__name__)
Reply = dict[str, Any]


class Native(BaseModel):
    """What every native request may carry besides its HTTP body."""

    agent_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """The agent's token, as `Authorization: Bearer` over HTTP; required."""
    idempotency_key: IdempotencyKey | None = None
    """As the `Idempotency-Key` header over HTTP: a retry answers as the first request did."""

    async def caller(self, services: Services) -> Principal:
        """Only an agent's token opens the native path, checked as over HTTP."""
        if self.agent_token is None:
            raise UnauthorizedError(INVALID_CREDENTIALS)
        principal = await services.authn.principal(self.agent_token)
        principal.require(Permission.AGENT)
        return principal

    def cause(self, action: str, caller: Principal) -> Cause:
        return CommandContext(caller, self.idempotency_key, None).cause(action)


class NativeClaim(ClaimRequest, Native):
    pass


class JobLease(LeaseCall, Native):
    job_id: UUID

    async def holder(self, services: Services) -> Principal:
        """The calling agent, checked to hold this claim."""
        caller = await self.caller(services)
        act_on_lease(services, caller, self.job_id, self.claim_token)
        return caller


class JobComplete(CompleteRequest, JobLease):
    pass


class JobFail(FailRequest, JobLease):
    pass


def _job(result: Committed[Job]) -> Reply:
    job = result.aggregate
    return {"status": 200, "job_id": str(job.id), "job_status": job.status, "seq": result.seq}


async def claim(services: Services, body: bytes) -> Reply:
    req = NativeClaim.model_validate_json(body)
    (await req.caller(services)).require_agent(req.agent_id)
    grant = await services.queue.claim(req.agent_id, req.pool, req.labels, req.wait_s)
    if grant is None:
        return {"status": 204}
    return {"status": 200} | claim_answer(grant).model_dump(mode="json")


async def heartbeat(services: Services, body: bytes) -> Reply:
    req = JobLease.model_validate_json(body)
    await req.holder(services)
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
    cause = req.cause("job.start", await req.holder(services))
    return _job(await services.queue.start(cause, req.job_id, req.claim_token))


async def complete(services: Services, body: bytes) -> Reply:
    req = JobComplete.model_validate_json(body)
    cause = req.cause("job.complete", await req.holder(services))
    return _job(await services.queue.complete(cause, req.job_id, req.claim_token, req))


async def fail(services: Services, body: bytes) -> Reply:
    req = JobFail.model_validate_json(body)
    cause = req.cause("job.fail", await req.holder(services))
    return _job(await services.queue.fail(cause, req.job_id, req.claim_token, req))


async def release(services: Services, body: bytes) -> Reply:
    req = JobLease.model_validate_json(body)
    cause = req.cause("job.release", await req.holder(services))
    return _job(await services.queue.release(cause, req.job_id, req.claim_token))


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
    except orjson.JSONDecodeError as exc:
        return {"status": 422, "error": "ValidationError", "detail": f"not JSON: {exc}"}
    except ValidationError as exc:  # named, never echoed: a request carries the agent's token
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return {"status": 422, "error": "ValidationError", "detail": detail}
    except JetDeckError as exc:
        return {"status": status_of(exc), "error": type(exc).__name__, "detail": str(exc)}
    except (NatsError, TimeoutError) as exc:
        return {"status": 503, "error": "UnavailableError", "detail": repr(exc)}
    except Exception:  # the caller gets an answer whatever happened; the log gets the details
        log.exception("native %s failed", operation)
        return {"status": 500, "error": "InternalError", "detail": "see the gateway's log"}


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    broker = NatsBroker(settings.server_urls, security=broker_security(settings.nats_login))
    state: dict[str, Services] = {}

    # Claims long-poll for up to 30 s; one handler at a time would hold every other call back.
    # Replies are sent by hand: the gateway publishes as JetDeck's own NATS user, so answering
    # to whatever reply subject a caller names would let an agent write anywhere (a KV key, a
    # stream API subject); only inboxes are answered.
    @broker.subscriber(SUBJECTS, queue="jetdeck-gateway", max_workers=CONCURRENCY, no_reply=True)
    async def gateway(msg: NatsMessage) -> None:
        raw = msg.raw_message
        if not raw.reply.startswith(REPLY_PREFIXES):
            log.warning(
                "native request on %s with reply subject %r ignored", raw.subject, raw.reply
            )
            return
        operation = raw.subject.rsplit(".", 1)[-1]
        await raw.respond(orjson.dumps(await dispatch(state["services"], operation, msg.body)))

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
