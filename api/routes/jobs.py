"""Dashboard jobs: report, list and inspect jobs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from api.auth import PROTECTED, Reading, Reporting
from api.commands import Command
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Body, Cursor, JobCreate, Limit, Page
from domain.job import FINISHED, Job, JobStatus
from domain.values import ExitCode, Name, Text, Url
from infra.commands import Committed
from infra.job_detail import job_detail
from infra.unit_of_work import UnitOfWork
from projections.jobs import JobFilter, JobView

router = APIRouter(prefix="/api/dashboard/jobs", tags=["jobs"], responses=PROTECTED)


class JobAccepted(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int


class JobStart(Body):
    agent_id: Name | None = None


def _finished(value: JobStatus) -> JobStatus:
    if value not in FINISHED:
        raise ValueError(f"must be one of {', '.join(sorted(FINISHED))}")
    return value


FinalStatus = Annotated[
    JobStatus,
    AfterValidator(_finished),
    WithJsonSchema({"type": "string", "enum": sorted(FINISHED)}),
]


class JobComplete(Body):
    status: FinalStatus
    exit_code: ExitCode | None = None
    summary: Text = ""
    log_url: Url | None = None
    artifact_urls: Annotated[tuple[Url, ...], Field(max_length=100)] = ()


def accepted(response: Response, result: Committed[Job]) -> JobAccepted:
    committed(response, result)
    return JobAccepted(job_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Reporting])
async def create_job(
    body: JobCreate, services: ServicesDep, command: Command, response: Response
) -> JobAccepted:
    async def make(_: UnitOfWork) -> Job:
        return Job.create(command.new_id("job.create"), body.job_type, body.git(), body.metadata)

    result = await services.commands.create(command.cause("job.create"), make)
    return accepted(response, result)


@router.get("", dependencies=[Reading])
async def list_jobs(
    services: Reader,
    flt: Annotated[JobFilter, Query()],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[JobView]:
    items, next_cursor = services.views.jobs.page(flt, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/running", dependencies=[Reading])
async def running_jobs(services: Reader, limit: Limit = 50, cursor: Cursor = None) -> Page[JobView]:
    return Page.window(services.views.jobs.list_running(), limit, cursor)


@router.get("/{job_id}", dependencies=[Reading])
async def get_job(job_id: UUID, services: Reader) -> JobView:
    return found(await job_detail(services.store, services.views.jobs, job_id), Job.KIND, job_id)


@router.patch("/{job_id}/start", dependencies=[Reporting])
async def start_job(
    job_id: UUID, body: JobStart, services: ServicesDep, command: Command, response: Response
) -> JobAccepted:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.require_outside_queue("start")
        job.start(body.agent_id)

    result = await services.commands.update(command.cause("job.start"), Job, job_id, decide)
    return accepted(response, result)


@router.patch("/{job_id}/complete", dependencies=[Reporting])
async def complete_job(
    job_id: UUID, body: JobComplete, services: ServicesDep, command: Command, response: Response
) -> JobAccepted:
    async def decide(_: UnitOfWork, job: Job) -> None:
        job.require_outside_queue("complete")
        job.complete(body.status, body.exit_code, body.summary, body.log_url, body.artifact_urls)

    result = await services.commands.update(command.cause("job.complete"), Job, job_id, decide)
    return accepted(response, result)
