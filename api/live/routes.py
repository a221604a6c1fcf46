"""The live stream of a dashboard page: `GET /live/<page path>?<its query>&after=S`. It needs what
the page needs, by the same session cookie (an EventSource sends no other credentials): the read
permission first, then the page itself, rendered with the caller's own credentials, must answer
(an access aggregate's audit trail, say, needs the admin permission). It ends when they stop
working or the caller's identity changes, when the server stops, or, on a job page, when the
log follow reaches its time limit (the browser then reconnects from where it stood)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.routing import Match

from api.auth import Credentials, Reading, SessionCookie, authenticated
from api.deps import ServicesDep
from api.live.cursor import Cursor, resume_point
from api.live.hub import Hub, PageError
from api.live.links import PREFIX, page_query
from api.live.render import PageRequest
from api.live.stream import Watch, stream
from api.pages import routes as pages
from domain.errors import ForbiddenError, UnauthorizedError
from domain.identity import Permission, Principal
from infra.log_follow import Item, followed
from infra.services import Services

router = APIRouter(include_in_schema=False)
JOB_ID = TypeAdapter(UUID)
"""The job page's own reading of its `job_id`, in any form that page takes."""
SEND_TIMEOUT_S = 10.0
"""A client whose connection takes no more for this long is dropped; it reconnects."""


@router.get(PREFIX + "/{page:path}")
async def live(
    request: Request,
    page: str,
    principal: Annotated[Principal, Reading],
    services: ServicesDep,
    credentials: Credentials,
    cookie: SessionCookie,
    after: Annotated[str | None, Query(max_length=40)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> Response:
    """Reading, and whatever the page itself needs of the caller."""
    cursor = resume_point(after, last_event_id)
    path, query = "/" + page, urlencode(page_query(request))
    hub: Hub = request.app.state.live
    renderer = PageRequest(request.scope, pages.router, path, query)
    # The principal itself, not its name: a page's answer depends on the roles and the services
    # scope too, so only callers equal in all of them may share a render.
    key = (path, query, principal)
    try:
        membership = await hub.join(key, services.runner, renderer.get, request.headers.raw)
    except PageError as exc:
        return Response(status_code=refusal_status(exc.status))

    watch = Watch(
        membership,
        cursor,
        services.runner,
        services.settings.live_keepalive_s,
        _recheck(request, services, credentials, cookie, principal),
        _job_log(services, path, cursor),
    )
    return EventSourceResponse(
        stream(watch),
        ping=0,
        send_timeout=SEND_TIMEOUT_S,
        background=BackgroundTask(membership.leave),
    )


def refusal_status(page_status: int) -> int:
    """An EventSource follows no way to the login page: the page's redirect there is a 401. A
    page's 4xx is the stream's; anything else (the router's redirect to a path with a trailing
    slash) names no page."""
    if page_status == status.HTTP_303_SEE_OTHER:
        return status.HTTP_401_UNAUTHORIZED
    return page_status if 400 <= page_status < 500 else status.HTTP_404_NOT_FOUND


def _recheck(
    request: Request,
    services: Services,
    credentials: Credentials,
    cookie: SessionCookie,
    joined_as: Principal,
) -> Callable[[], Awaitable[bool]]:
    """Whether the stream's credentials still name the identity it joined as: a logout, an
    expired session, a revoked token or a changed role ends the stream (the channel's frames
    are rendered for that identity)."""

    async def still_allowed() -> bool:
        try:
            principal = await authenticated(request, services, credentials, cookie)
        except (UnauthorizedError, ForbiddenError):
            return False
        return principal == joined_as and Permission.READ in principal.permissions

    return still_allowed


def job_of(path: str) -> UUID | None:
    """The job a path shows, when the pages' router routes it to the job page."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
    for route in pages.router.routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            if getattr(route, "endpoint", None) is not pages.job:
                return None
            return JOB_ID.validate_python(child["path_params"]["job_id"])
    return None


def _job_log(services: Services, path: str, cursor: Cursor) -> AsyncIterator[Item] | None:
    """On a job page, its log after the client's last chunk. Called once the page answered,
    so its job id is one the page took."""
    job_id = job_of(path)
    if job_id is None:
        return None
    limit_s = services.settings.log_follow_max_s
    return followed(services, services.logs, job_id, cursor.log, limit_s)
