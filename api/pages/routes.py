"""The dashboard's pages: thin, like the JSON routes, reading the same read models through the
same functions (`api.reads`), and left out of the OpenAPI document, which describes the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api import reads
from api.deps import Instant, Reader
from api.pages import audit, charts, deployments, dora_tiles, fleet
from api.pages.deps import PageFilter, PageViewer
from api.pages.errors import PageRoute
from api.pages.render import render
from api.routes.login import LoginsDep, provider_views
from api.schemas import Cursor, Limit
from domain.agent import AgentStatus
from domain.deployment import Environment
from domain.identity import Permission
from domain.job_status import TRANSITIONS, JobStatus
from wire.dora import DoraWindow

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# Their routes as this router's own (no prefix, same route class), so the pages stay one list.
for pages in (deployments, fleet, audit):
    router.routes.extend(pages.router.routes)


@router.get("/login")
async def login(request: Request, logins: LoginsDep) -> HTMLResponse:
    """Public, as the provider list it shows is."""
    return render(request, "login.html", None, providers=provider_views(logins))


@router.get("/")
@router.get("/dashboard")
async def overview(
    request: Request,
    viewer: PageViewer,
    services: Reader,
    end: Instant,
    days: Annotated[DoraWindow, Query()] = DoraWindow.MONTH,
) -> HTMLResponse:
    """`days`: the DORA tiles' window."""
    return render(
        request,
        "overview.html",
        viewer,
        active="overview",
        as_of_seq=services.as_of_seq,
        summary=reads.summary(services),
        levels=services.views.queue.stats(datetime.now(UTC)),
        agents=reads.agent_health(services),
        agent_statuses=list(AgentStatus),
        environments=list(Environment),
        throughput=charts.hourly_bars(reads.throughput(services, end)),
        dora=dora_tiles.panel(reads.dora_metrics(services, end, days, None), request.url),
    )


@router.get("/jobs")
async def jobs(
    request: Request,
    viewer: PageViewer,
    flt: PageFilter,
    services: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HTMLResponse:
    items, next_cursor = services.views.jobs.page(flt, limit, cursor)
    following = request.url.include_query_params(cursor=next_cursor) if next_cursor else None
    return render(
        request,
        "jobs.html",
        viewer,
        active="jobs",
        as_of_seq=services.as_of_seq,
        jobs=items,
        flt=flt,
        statuses=list(JobStatus),
        next_url=f"{following.path}?{following.query}" if following else None,
    )


@router.get("/jobs/{job_id}")
async def job(request: Request, viewer: PageViewer, job_id: UUID, services: Reader) -> HTMLResponse:
    view = await reads.job(services, job_id)
    operable = viewer.may(Permission.OPERATE) and services.as_of_seq is None
    return render(
        request,
        "job.html",
        viewer,
        active="jobs",
        as_of_seq=services.as_of_seq,
        job=view,
        may_cancel=operable and JobStatus.CANCELLED in TRANSITIONS[view.status],
        may_retry=operable and view.status is JobStatus.DEAD_LETTERED,
        why=reads.why(services, job_id),
    )
