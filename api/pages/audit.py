"""An aggregate's audit trail as a page: its events, who caused each, and the hash chain."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import reads
from api.deps import Reader
from api.pages.deps import PageViewer
from api.pages.errors import PageRoute
from api.pages.render import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/audit/{aggregate}/{aggregate_id}")
async def audit_trail(
    request: Request, viewer: PageViewer, services: Reader, aggregate: str, aggregate_id: UUID
) -> HTMLResponse:
    """Readers, as the JSON trail; the access aggregates (`role`, `token`, `trust`), admins."""
    trail, links = await reads.audit_trail(services, aggregate, aggregate_id, viewer.principal)
    return render(
        request,
        "audit.html",
        viewer,
        as_of_seq=services.as_of_seq,
        trail=trail,
        rows=list(zip(trail.events, links, strict=True)),
    )
