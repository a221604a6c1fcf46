"""Dashboard jobs: report, list and inspect jobs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api import reads
from api.auth import PROTECTED, Reading, Reporting
from api.commands import Context
from api.deps import Reader, ServicesDep, committed
from api.schemas import Cursor, Limit
from domain.commands.results import Committed
from domain.job import Job
from infra.dispatch import handle
from projections.jobs import JobFilter, JobView
from wire.common import Page
from wire.jobs import JobAccepted, JobComplete, JobCreate, JobStart

router = APIRouter(prefix="/api/dashboard/jobs", tags=["jobs"], responses=PROTECTED)


def accepted(response: Response, result: Committed[Job]) -> JobAccepted:
    committed(response, result)
    return JobAccepted(job_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Reporting])
async def create_job(
    body: JobCreate, services: ServicesDep, context: Context, response: Response
) -> JobAccepted:
    return accepted(response, await handle(services, body.as_command(), context))


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
    return await reads.job(services, job_id)


@router.patch("/{job_id}/start", dependencies=[Reporting])
async def start_job(
    job_id: UUID, body: JobStart, services: ServicesDep, context: Context, response: Response
) -> JobAccepted:
    return accepted(response, await handle(services, body.as_command(job_id), context))


@router.patch("/{job_id}/complete", dependencies=[Reporting])
async def complete_job(
    job_id: UUID, body: JobComplete, services: ServicesDep, context: Context, response: Response
) -> JobAccepted:
    return accepted(response, await handle(services, body.as_command(job_id), context))
