"""Commands and counts shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.commands.results import Committed
from domain.job import Job
from domain.job_status import JobStatus
from domain.recorded import Cause
from domain.values import GitContext
from infra.codec import decode
from infra.commands import CommandRunner
from infra.event_store import EventStore
from infra.layout import EVENTS
from infra.read_models import ReadModels
from infra.services import Services
from infra.unit_of_work import UnitOfWork
from projections.base import ReadModel
from projections.jobs import JobBoard, JobFilter

GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")


def cause(action: str, command_id: str | None = None) -> Cause:
    command_id = command_id or uuid4().hex
    return Cause(actor="test", command_id=command_id, action=action, correlation_id=command_id)


async def message_count(store: EventStore) -> int:
    info = await store.js.stream_info(EVENTS)
    return info.state.messages


async def create_job(
    commands: CommandRunner, job_id: UUID | None = None, command_id: str | None = None
) -> Committed[Job]:
    new_id = job_id or uuid4()

    async def make(_: UnitOfWork) -> Job:
        return Job.create(new_id, "test", GIT, {})

    return await commands.create(cause("job.create", command_id), make)


async def start_job(
    commands: CommandRunner, job_id: UUID, command_id: str | None = None
) -> Committed[Job]:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.start("agent-1")

    return await commands.update(cause("job.start", command_id), Job, job_id, decide)


async def complete_job(
    commands: CommandRunner,
    job_id: UUID,
    status: JobStatus = JobStatus.SUCCESS,
    command_id: str | None = None,
) -> Committed[Job]:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.complete(status, exit_code=0)

    return await commands.update(cause("job.complete", command_id), Job, job_id, decide)


async def folded(services: Services, seq: int) -> ReadModels:
    """A fresh fold of events 1..seq, no snapshot involved: what any past state must equal."""
    views = ReadModels()
    for message in await services.store.load("ev.>"):
        if message.seq > seq:
            break
        recorded = decode(message.seq, message.subject, message.payload, services.runner.writer_key)
        for model in views.all():
            model.apply(recorded)
    return views


def state_of(models: list[ReadModel]) -> dict[str, Any]:
    """Every model's picture, but a job board's answers: a board with a store leaves its
    finished jobs out of its picture."""
    return {
        model.name: _answers(model) if isinstance(model, JobBoard) else model.dump()
        for model in models
    }


def _answers(board: JobBoard) -> dict[str, list[dict[str, Any]]]:
    jobs, _ = board.page(JobFilter(), limit=10**9)
    running = board.list_running()
    return {
        "jobs": [job.model_dump() for job in jobs],
        "running": [j.model_dump() for j in running],
    }


async def ask(nc: Client, subject: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
    """A native request (JSON, or bytes as they are) and its JSON answer."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    reply = await nc.request(subject, raw, timeout=10)
    answer: dict[str, Any] = orjson.loads(reply.data)
    return answer


@asynccontextmanager
async def requests_to(spy: Client, subject: str) -> AsyncIterator[list[str]]:
    """The subjects of the requests the server receives on `subject`, as they come."""
    seen: list[str] = []

    async def note(msg: Msg) -> None:
        seen.append(msg.subject)

    sub = await spy.subscribe(subject, cb=note)
    await spy.flush()
    try:
        yield seen
    finally:
        await sub.unsubscribe()
