"""The native command path for services: request/reply on `jetdeck.cmd.<command>`.

Each request is its HTTP route's body plus `token` (a service token, as `Authorization: Bearer`
over HTTP), the path's ids (`job_id`) and an optional `idempotency_key`. Each command names the
permission its HTTP route needs, builds the same command and goes through the same table
(`infra.dispatch`), so both paths record the same events. Answers are the HTTP answers' fields
and a `status`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import partial
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, Field

from domain.commands.base import Command, CommandContext
from domain.commands.jobs import CancelJob, RetryDeadLetter
from domain.errors import ValidationError
from domain.identity import Permission
from infra.dispatch import handle
from infra.services import Services
from wire.batch import BatchEnqueued, BatchEnqueueRequest, enqueued, late_run_at
from wire.common import IdempotencyKey
from wire.jobs import JobAccepted, JobComplete, JobCreate, JobStart
from wire.queue import EnqueueRequest, JobAnswer, ReasonBody
from workers.native_auth import native_context
from workers.native_errors import Reply, error_reply
from workers.responder import Responder

PREFIX = "jetdeck.cmd."
SUBJECTS = f"{PREFIX}*"
QUEUE_GROUP = "jetdeck-commands"
MAX_IN_FLIGHT = 256
"""A batch of 1,000 jobs is one request; more at once would only queue at the event store."""


class ServiceCall(BaseModel, ABC):
    """What every service command carries besides its HTTP body."""

    PERMISSION: ClassVar[Permission]
    STATUS: ClassVar[int] = 200
    """The HTTP route's status on success."""

    token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """The service's token, as `Authorization: Bearer` over HTTP; required."""
    idempotency_key: IdempotencyKey | None = None
    """As the `Idempotency-Key` header over HTTP: a retry answers as the first request did."""

    async def context(self, services: Services, subject: str) -> CommandContext:
        body = self.model_dump_json(exclude={"token", "idempotency_key"})
        return await native_context(
            services, self.token, self.PERMISSION, subject, body, self.idempotency_key
        )

    def check(self, horizon_s: int) -> None:
        """What the schema cannot say, as the HTTP route checks it: nothing, unless said."""

    @abstractmethod
    def to_command(self) -> Command[Any]: ...

    @abstractmethod
    def answer(self, result: Any) -> BaseModel: ...


class Enqueue(EnqueueRequest, ServiceCall):
    PERMISSION = Permission.OPERATE
    STATUS = 201

    def check(self, horizon_s: int) -> None:
        if (msg := late_run_at(self, horizon_s)) is not None:
            raise ValidationError(msg)

    def to_command(self) -> Command[Any]:
        return self.as_command()

    def answer(self, result: Any) -> BaseModel:
        return enqueued(result)


class EnqueueJobs(BatchEnqueueRequest, ServiceCall):
    PERMISSION = Permission.OPERATE

    def check(self, horizon_s: int) -> None:
        if errors := self.run_at_errors(horizon_s):
            raise ValidationError("; ".join(f"jobs.{e['loc'][2]}: {e['msg']}" for e in errors))

    def to_command(self) -> Command[Any]:
        return self.as_command(f"{PREFIX}enqueue_batch")

    def answer(self, result: Any) -> BaseModel:
        return BatchEnqueued.of(result)


class JobReport(ServiceCall, ABC):
    PERMISSION = Permission.REPORT

    def answer(self, result: Any) -> BaseModel:
        job = result.aggregate
        return JobAccepted(job_id=job.id, status=job.status, seq=result.seq)


class ReportCreated(JobCreate, JobReport):
    STATUS = 201

    def to_command(self) -> Command[Any]:
        return self.as_command()


class ReportStarted(JobStart, JobReport):
    job_id: UUID

    def to_command(self) -> Command[Any]:
        return self.as_command(self.job_id)


class ReportEnded(JobComplete, JobReport):
    job_id: UUID

    def to_command(self) -> Command[Any]:
        return self.as_command(self.job_id)


class OperatorCall(ReasonBody, ServiceCall, ABC):
    PERMISSION = Permission.OPERATE
    job_id: UUID

    def answer(self, result: Any) -> BaseModel:
        job = result.aggregate
        return JobAnswer(job_id=job.id, status=job.status, seq=result.seq)


class Cancel(OperatorCall):
    def to_command(self) -> Command[Any]:
        return CancelJob(self.job_id, self.reason or "cancelled")


class RetryDeadLettered(OperatorCall):
    def to_command(self) -> Command[Any]:
        return RetryDeadLetter(self.job_id, self.reason or "retried by an operator")


COMMANDS: dict[str, type[ServiceCall]] = {
    "enqueue": Enqueue,
    "enqueue_batch": EnqueueJobs,
    "create_job": ReportCreated,
    "start_job": ReportStarted,
    "complete_job": ReportEnded,
    "cancel_job": Cancel,
    "retry_dead_letter": RetryDeadLettered,
}


def native_answer(status: int, answer: BaseModel) -> Reply:
    """The HTTP answer's fields and the `status` code; a job's own status is `job_status`, as on
    the agents' path."""
    fields = answer.model_dump(mode="json")
    if "status" in fields:
        fields["job_status"] = fields.pop("status")
    return fields | {"status": status}


def responder(services: Services, reply_prefixes: tuple[str, ...]) -> Responder:
    answer = partial(run_command, services)
    return Responder(services.nc, SUBJECTS, QUEUE_GROUP, answer, reply_prefixes, MAX_IN_FLIGHT)


async def run_command(services: Services, subject: str, body: bytes) -> Reply:
    """Run one request; every failure becomes an answer with a status."""
    name = subject.removeprefix(PREFIX)
    call = COMMANDS.get(name)
    if call is None:
        return {"status": 404, "error": "not_found", "detail": f"no command {name!r}"}
    context: CommandContext | None = None
    try:
        request = call.model_validate_json(body)
        context = await request.context(services, subject)
        request.check(services.settings.run_at_horizon_s)
        result = await handle(services, request.to_command(), context)
        return native_answer(call.STATUS, request.answer(result))
    except Exception as exc:  # the caller gets an answer whatever happened
        return error_reply(exc, subject, context.key if context else None)
