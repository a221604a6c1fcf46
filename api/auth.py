"""Who is calling, and whether they may: every route but the public ones depends on `allow`.

`Authorization: Bearer` carries a service token, an agent token or a session token; a browser
sends its session in the `__Host-jetdeck_session` cookie instead, and since a browser sends that
with any site's request, a write it authenticates must also carry the session's CSRF token. The
permissions a route needs appear in the OpenAPI document as the scopes of its security
requirement, so the document itself says who may call what.

Each route's own dependencies read the credentials from the request themselves, and the
principal is found once per request however many of them ask: FastAPI solves every
sub-dependency again under each dependency that asks for it, on every request (docs/architecture.md,
Identity and access). The OpenAPI document's security requirements are made from the same
dependencies (`requirement_of`, used by `api.openapi`), not from FastAPI's `Security`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ServicesDep, get_services
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


T = TypeVar("T")
_Check = Callable[
    [Request, Services, HTTPAuthorizationCredentials | None, str | None], Awaitable[T]
]
"""What is made of a request's credentials: its principal, or its login session."""
_PRINCIPAL = "jetdeck.principal"
"""Where a request keeps its principal once found."""


async def caller(request: Request) -> Principal:
    """Who is calling, found once per request."""
    found: Principal | None = request.scope.get(_PRINCIPAL)
    if found is None:
        found = request.scope[_PRINCIPAL] = await _presented(request, authenticated)
    return found


Caller = Annotated[Principal, Depends(caller)]


async def current_session(
    request: Request, services: ServicesDep, credentials: Credentials, cookie: SessionCookie
) -> Session:
    """The login session calling, by a `jdses_` bearer or by the cookie."""
    if credentials is not None:
        return await services.authn.session(credentials.credentials)
    if cookie is not None:
        return await _cookie_session(request, services, cookie)
    raise UnauthorizedError(INVALID_CREDENTIALS)


async def calling_session(request: Request) -> Session:
    return await _presented(request, current_session)


async def _presented(request: Request, check: _Check[T]) -> T:
    """`check` of the credentials the request presents, read as the security schemes read them."""
    services = await get_services(request)
    return await check(request, services, await bearer(request), await session_cookie(request))


CurrentSession = Annotated[Session, Depends(calling_session)]


async def _cookie_session(request: Request, services: Services, cookie: str) -> Session:
    session = await services.authn.session(cookie)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "").encode()
        if not hmac.compare_digest(given, session.record.csrf.encode()):
            raise ForbiddenError(f"a write with the session cookie needs its {CSRF_HEADER} header")
    return session


@dataclass(frozen=True)
class Permitted:
    """A route dependency: the caller must hold one of `permissions`."""

    permissions: tuple[Permission, ...]

    async def __call__(self, request: Request) -> Principal:
        principal = await caller(request)
        if principal is ANONYMOUS and Permission.READ not in self.permissions:
            raise UnauthorizedError(INVALID_CREDENTIALS)
        principal.require(*self.permissions)
        return principal


def allow(*permissions: Permission) -> Any:
    """A route dependency: the caller must hold one of `permissions`."""
    return Depends(Permitted(permissions))


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


async def registration(request: Request) -> Registrar:
    """Who may register an agent: the holder of the registration token, in any pool, or of a
    registration from `POST /api/auth/token`, in its trust policy's pool."""
    services = await get_services(request)
    credentials = await bearer(request)
    given = credentials.credentials if credentials else ""
    if given.startswith(REGISTRATION_PREFIX):
        grant = await services.workload.registration_grant(given)
        return Registrar(grant.registrar, grant.pool)
    expected = services.settings.registration_token.get_secret_value().encode()
    if not hmac.compare_digest(given.encode(), expected):
        raise UnauthorizedError(INVALID_CREDENTIALS)
    return SHARED_REGISTRAR


Requirement = dict[str, list[str]]
"""An OpenAPI security requirement: each scheme's name, with the scopes it needs."""
SCHEMES = {scheme.scheme_name: scheme for scheme in (bearer, session_cookie)}


def requirement_of(dependency: object) -> Requirement:
    """What a dependency asks of the caller, as the OpenAPI document says it."""
    if isinstance(dependency, Permitted):
        return {name: [p.value for p in dependency.permissions] for name in SCHEMES}
    if dependency in (caller, calling_session):
        return {name: [] for name in SCHEMES}
    if dependency is registration:
        return {bearer.scheme_name: []}
    return {name: [] for name, scheme in SCHEMES.items() if dependency is scheme}
