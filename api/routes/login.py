"""Login and sessions: the providers offered, the round trip through one, and the session it
leaves, in the browser's cookie and usable as a bearer token by scripts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from api.auth import PROTECTED, SESSION_COOKIE, CurrentSession
from api.deps import ServicesDep
from api.login import Logins
from api.schemas import Cursor, Limit
from domain.identity import Permission, Role
from infra.login_settings import ProviderKind
from infra.services import Services
from infra.sessions import Session
from wire.common import Page
from wire.problems import Problem

router = APIRouter(prefix="/api/auth", tags=["login"])
ProviderName = Annotated[str, Path(max_length=64, description="A configured login provider")]


async def get_logins(request: Request) -> Logins:
    logins: Logins = request.app.state.logins
    return logins


LoginsDep = Annotated[Logins, Depends(get_logins)]


class ProviderView(BaseModel):
    name: str
    kind: ProviderKind
    login_url: str


class SessionView(BaseModel):
    principal: str
    roles: list[Role]
    permissions: list[Permission]
    provider: str
    created_at: datetime
    expires_at: datetime
    """The idle timeout or the absolute lifetime, whichever comes first."""
    csrf_token: str
    """Send it as `X-CSRF-Token` with every write the session cookie authenticates."""


def provider_views(logins: Logins) -> list[ProviderView]:
    """The configured providers, by name, each with the URL that starts a login there."""
    return [
        ProviderView(name=name, kind=provider.kind, login_url=f"/api/auth/login/{name}")
        for name, provider in sorted(logins.settings.oidc.items())
    ]


@router.get("/providers")
async def providers(
    logins: LoginsDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ProviderView]:
    return Page.window(provider_views(logins), limit, cursor)


@router.get("/login/{provider}", status_code=status.HTTP_302_FOUND, response_class=RedirectResponse)
async def login(provider: ProviderName, request: Request, logins: LoginsDep) -> Response:
    """To the provider's login page; it sends the browser back to the callback."""
    return await logins.redirect(request, provider)


@router.get(
    "/callback/{provider}",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={
        401: {"model": Problem, "description": "The provider's answer proves nothing."},
        403: {"model": Problem, "description": "The person may not log in here."},
    },
)
async def callback(
    provider: ProviderName, request: Request, logins: LoginsDep, services: ServicesDep
) -> Response:
    """Opens a new session for the person the provider vouched for, and goes home."""
    identity = await logins.identity(request, provider)
    secret = await services.sessions.create(identity)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=services.settings.session_max_s,
        path="/",
        # always: a `__Host-` cookie without it is dropped, and browsers take Secure cookies
        # from http on loopback too (a potentially trustworthy origin)
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/session", responses=PROTECTED)
async def whoami(session: CurrentSession, services: ServicesDep, response: Response) -> SessionView:
    """Answers a session holding no role too: a first login waits for an admin's grant."""
    response.headers["Cache-Control"] = "no-store"  # it carries the CSRF token
    return _view(services, session)


@router.post("/session/refresh", responses=PROTECTED)
async def refresh(
    session: CurrentSession, services: ServicesDep, response: Response
) -> SessionView:
    """Restarts the idle timeout now; the absolute lifetime still counts from the login."""
    response.headers["Cache-Control"] = "no-store"
    return _view(services, await services.sessions.touch(session))


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, responses=PROTECTED)
async def logout(session: CurrentSession, services: ServicesDep) -> Response:
    """Ends the session here from this answer on, and on the other replicas as soon as their
    watch on the session bucket sees it."""
    await services.sessions.end(session)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True)
    return response


def _view(services: Services, session: Session) -> SessionView:
    principal = services.access.user(session.record.email)
    return SessionView(
        principal=str(principal),
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
        provider=session.record.provider,
        created_at=datetime.fromtimestamp(session.record.created, UTC),
        expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        csrf_token=session.record.csrf,
    )
