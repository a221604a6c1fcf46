"""What the pages depend on: who is looking, and the job list's filter from a plain form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.auth import Credentials, Reading, SessionCookie, current_session
from api.deps import ServicesDep
from api.live.links import note_position
from api.pages.render import Viewer
from domain.identity import Principal
from projections.jobs import JobFilter


async def page_viewer(
    request: Request,
    principal: Annotated[Principal, Reading],
    services: ServicesDep,
    credentials: Credentials,
    cookie: SessionCookie,
) -> Viewer:
    """Every page reads, so it needs the read permission, like the JSON routes it mirrors."""
    note_position(request, services.runner.position)  # before the page reads: api.live.links
    if credentials is not None or cookie is None:
        return Viewer(principal, None)
    session = await current_session(request, services, None, cookie)
    return Viewer(principal, session.record.csrf)


PageViewer = Annotated[Viewer, Depends(page_viewer)]


async def job_filter(request: Request) -> JobFilter:
    """The JSON list's own filter. A form sends the fields left empty too; they filter nothing."""
    given = {k: v for k, v in request.query_params.items() if v and k in JobFilter.model_fields}
    try:
        return JobFilter.model_validate(given)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


PageFilter = Annotated[JobFilter, Depends(job_filter)]
