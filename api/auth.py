"""Who is calling, and whether they may: every route but the public ones depends on `allow`.

`Authorization: Bearer` carries a service token, an agent token or a session token; a browser
sends its session in the `__Host-jetdeck_session` cookie instead, and since a browser sends that
with any site's request, a write it authenticates must also carry the session's CSRF token. The
permissions a route needs appear in the OpenAPI document as the scopes of its security
requirement, so the document itself says who may call what.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import (
    APIKeyCookie,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from api.deps import ServicesDep
from domain.errors import ForbiddenError, UnauthorizedError
from domain.identity import ANONYMOUS, Permission, Principal
from infra.authn import INVALID_CREDENTIALS
from infra.services import Services
from infra.sessions import Session
from infra.workload_identity import REGISTRATION_PREFIX
from wire.problems import Problem

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A service token (`jdsvc_…`), an agent token (`jdagt_…`) or a session token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
SESSION_COOKIE = "__Host-jetdeck_session"
CSRF_HEADER = "X-CSRF-Token"
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    auto_error=False,
    description=f"The browser's login session; a write also needs its `{CSRF_HEADER}` header.",
)
SessionCookie = Annotated[str | None, Security(session_cookie)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


PROTECTED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, invalid, expired or revoked credentials."},
    403: {"model": Problem, "description": "The caller lacks the permission named in detail."},
}
"""The answers every protected route may give, for the routers' OpenAPI responses."""


async def authenticated(
    request: Request, services: ServicesDep, credentials: Credentials, cookie: SessionCookie
) -> Principal:
    if credentials is not None:
        return await services.authn.principal(credentials.credentials)
    if cookie is not None:
        session = await _cookie_session(request, services, cookie)
        return services.access.user(session.record.email)
    if services.settings.anonymous_read:
        return ANONYMOUS
    raise UnauthorizedError(INVALID_CREDENTIALS)


Caller = Annotated[Principal, Depends(authenticated)]


async def current_session(
    request: Request, services: ServicesDep, credentials: Credentials, cookie: SessionCookie
) -> Session:
    """The login session calling, by a `jdses_` bearer or by the cookie."""
    if credentials is not None:
        return await services.authn.session(credentials.credentials)
    if cookie is not None:
        return await _cookie_session(request, services, cookie)
    raise UnauthorizedError(INVALID_CREDENTIALS)


async def _cookie_session(request: Request, services: Services, cookie: str) -> Session:
    session = await services.authn.session(cookie)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "").encode()
        if not hmac.compare_digest(given, session.record.csrf.encode()):
            raise ForbiddenError(f"a write with the session cookie needs its {CSRF_HEADER} header")
    return session


async def _permitted(scopes: SecurityScopes, principal: Caller) -> Principal:
    needed = [Permission(scope) for scope in scopes.scopes]
    if principal is ANONYMOUS and Permission.READ not in needed:
        raise UnauthorizedError(INVALID_CREDENTIALS)
    principal.require(*needed)
    return principal


CurrentSession = Annotated[Session, Depends(current_session)]


def allow(*permissions: Permission) -> Any:
    """A route dependency: the caller must hold one of `permissions`."""
    return Security(_permitted, scopes=[p.value for p in permissions])


Reading = allow(Permission.READ)
Reporting = allow(Permission.REPORT)
Deploying = allow(Permission.DEPLOY)
Operating = allow(Permission.OPERATE)
Administering = allow(Permission.ADMIN)
AgentCaller = Annotated[Principal, allow(Permission.AGENT)]
"""A build agent calling for itself."""


@dataclass(frozen=True)
class Registrar:
    """Who vouches for a new agent, and the pool it is limited to (None: any)."""

    name: str
    pool: str | None


SHARED_REGISTRAR = Registrar("registration-token", None)


async def registration(services: ServicesDep, credentials: Credentials) -> Registrar:
    """Who may register an agent: the holder of the registration token, in any pool, or of a
    registration from `POST /api/auth/token`, in its trust policy's pool."""
    given = credentials.credentials if credentials else ""
    if given.startswith(REGISTRATION_PREFIX):
        grant = await services.workload.registration_grant(given)
        return Registrar(grant.registrar, grant.pool)
    expected = services.settings.registration_token.get_secret_value().encode()
    if not hmac.compare_digest(given.encode(), expected):
        raise UnauthorizedError(INVALID_CREDENTIALS)
    return SHARED_REGISTRAR
