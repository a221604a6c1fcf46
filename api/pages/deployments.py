"""The deployments' pages: per service, its versions through staging and production, newest
first, with their rollbacks and supersessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import Reader
from api.pages.deps import PageViewer
from api.pages.errors import PageRoute
from api.pages.render import Viewer, render
from api.schemas import Cursor, Limit
from domain.deployment import ROLLBACK_FROM, DeploymentStatus, Environment
from domain.errors import NotFoundError
from domain.identity import Permission
from infra.services import Services
from projections.deployments import DeploymentView

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RECENT = 5
"""Deployments per service on the board; the service's own page has the rest."""
PROMOTABLE = frozenset({DeploymentStatus.STAGED, DeploymentStatus.PRODUCTION})
"""Where reporting production `succeeded` is allowed: from staged (it records the start too), or
after production started."""
ServiceName = Annotated[str | None, Query(min_length=1, max_length=200)]


@dataclass(frozen=True)
class ServiceHistory:
    name: str
    live: dict[Environment, str]
    deployments: list[DeploymentView]
    older: int | None
    """The cursor of the service's next page, when it has more."""
    may_deploy: bool


def history(
    services: Services,
    viewer: Viewer,
    live: dict[str, dict[Environment, str]],
    name: str,
    limit: int,
    cursor: int | None,
) -> ServiceHistory:
    """The buttons need the deploy permission for this service, on the live state."""
    items, older = services.views.deployments.page(name, None, limit, cursor)
    may = viewer.may(Permission.DEPLOY) and services.as_of_seq is None
    allowed = viewer.principal.services
    return ServiceHistory(
        name=name,
        live=live.get(name, {}),
        deployments=items,
        older=older,
        may_deploy=may and (allowed is None or name in allowed),
    )


@router.get("/deployments")
async def deployments(
    request: Request,
    viewer: PageViewer,
    services: Reader,
    service: ServiceName = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HTMLResponse:
    """Readers; promote and roll back for deployers of the service. Every service's latest
    deployments, or one service's (`?service=`, whose name may hold any character) page by
    page."""
    board = services.views.deployments
    live = board.live_versions()
    if service is None:
        names = sorted(board.by_service)
        shown = [history(services, viewer, live, name, RECENT, None) for name in names]
    elif service in board.by_service:
        shown = [history(services, viewer, live, service, limit, cursor)]
    else:
        raise NotFoundError("service", service)
    return render(
        request,
        "deployments.html",
        viewer,
        active="deployments",
        as_of_seq=services.as_of_seq,
        environments=list(Environment),
        promotable=PROMOTABLE,
        rollback_from=ROLLBACK_FROM,
        services_shown=shown,
        one_service=service,
    )
