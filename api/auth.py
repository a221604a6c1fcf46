"""Who is calling, and whether they may: every route but the public ones depends on `allow`.

`Authorization: Bearer` carries a service token, an agent token or a session token. The
permissions a route needs appear in the OpenAPI document as the scopes of its security
requirement, so the document itself says who may call what.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from pydantic import BaseModel

from api.deps import ServicesDep
from domain.errors import UnauthorizedError
from domain.identity import ANONYMOUS, Permission, Principal
from infra.authn import INVALID_CREDENTIALS

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A service token (`jdsvc_…`), an agent token (`jdagt_…`) or a session token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


class ErrorBody(BaseModel):
    error: str
    detail: str


PROTECTED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid, expired or revoked credentials."},
    403: {"model": ErrorBody, "description": "The caller lacks the permission named in detail."},
}
"""The answers every protected route may give, for the routers' OpenAPI responses."""


async def authenticated(services: ServicesDep, credentials: Credentials) -> Principal:
    if credentials is not None:
        return await services.authn.principal(credentials.credentials)
    if services.settings.anonymous_read:
        return ANONYMOUS
    raise UnauthorizedError(INVALID_CREDENTIALS)


async def _permitted(scopes: SecurityScopes, principal: Caller) -> Principal:
    needed = [Permission(scope) for scope in scopes.scopes]
    if principal is ANONYMOUS and Permission.READ not in needed:
        raise UnauthorizedError(INVALID_CREDENTIALS)
    principal.require(*needed)
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


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


async def registration(services: ServicesDep, credentials: Credentials) -> str | None:
    """Who may register an agent: the holder of the registration token, in any pool.
    Returns the pool the registration is limited to (None: any)."""
    expected = services.settings.registration_token.encode()
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise UnauthorizedError(INVALID_CREDENTIALS)
    return None


def act_on_lease(services: ServicesDep, agent: Principal, job_id: UUID, token: str) -> None:
    """Only the holder of the claim may act on it."""
    agent.require_agent(services.queue.claim_of(job_id, token).agent_id)
