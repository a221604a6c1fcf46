"""Admin: service tokens, and the roles granted to users and services."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status
from pydantic import AfterValidator

from api.auth import PROTECTED, Administering
from api.commands import Context
from api.deps import ServicesDep, committed
from api.schemas import Cursor, Limit
from domain.commands.access import GrantRole, IssueToken, RevokeRole, RevokeToken
from domain.errors import ValidationError as DomainValidationError
from domain.identity import Role, user_principal
from infra.dispatch import handle
from projections.access import TokenView
from wire.access import IssuedToken, RevokeRequest, RoleRequest, Roles, TokenRequest
from wire.common import Page

router = APIRouter(
    prefix="/api/auth", tags=["auth"], dependencies=[Administering], responses=PROTECTED
)


def _granted_principal(value: str) -> str:
    try:
        return user_principal(value)
    except DomainValidationError as exc:
        raise ValueError(str(exc)) from None


PrincipalPath = Annotated[
    str,
    Path(
        max_length=300,
        pattern=r"^\s*user:\S*@\S*\s*$",
        description="`user:<email>`; a service's roles are its token's",
    ),
    AfterValidator(_granted_principal),
]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
async def issue_token(
    body: TokenRequest, services: ServicesDep, context: Context, response: Response
) -> IssuedToken:
    names = None if body.service_names is None else frozenset(body.service_names)
    command = IssueToken(body.name, body.roles, names, body.expires_at)
    result, secret = await handle(services, command, context)
    committed(response, result)
    view = services.access.token(str(result.aggregate.id))
    return IssuedToken(**view.model_dump(), token=secret, seq=result.seq)


@router.get("/tokens")
async def list_tokens(
    services: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[TokenView]:
    tokens = sorted(services.views.access.tokens.values(), key=lambda t: t.created_at)
    return Page.window(tokens, limit, cursor)


@router.delete("/tokens/{token_id}")
async def revoke_token(
    token_id: UUID,
    services: ServicesDep,
    context: Context,
    response: Response,
    body: RevokeRequest | None = None,
) -> TokenView:
    """The token opens nothing from this answer on, here and on every replica that has read
    the revocation."""
    reason = (body or RevokeRequest()).reason
    committed(response, await handle(services, RevokeToken(token_id, reason), context))
    return services.access.token(str(token_id))


@router.get("/users")
async def list_users(
    services: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[Roles]:
    users = sorted(services.views.access.users().items())
    rows = [Roles(principal=p, roles=sorted(roles)) for p, roles in users]
    return Page.window(rows, limit, cursor)


@router.get("/users/{principal}/roles")
async def user_roles(principal: PrincipalPath, services: ServicesDep) -> Roles:
    return Roles(principal=principal, roles=sorted(services.views.access.roles_of(principal)))


async def _set_role(
    services: ServicesDep,
    context: Context,
    response: Response,
    command: GrantRole | RevokeRole,
) -> Roles:
    result = await handle(services, command, context)
    committed(response, result)
    roles = sorted(services.views.access.roles_of(command.principal))
    return Roles(principal=command.principal, roles=roles, seq=result.seq)


@router.post("/users/{principal}/roles")
async def grant_role(
    principal: PrincipalPath,
    body: RoleRequest,
    services: ServicesDep,
    context: Context,
    response: Response,
) -> Roles:
    """Takes effect on the principal's next request; granting a held role records nothing."""
    return await _set_role(services, context, response, GrantRole(principal, body.role))


@router.delete("/users/{principal}/roles/{role}")
async def revoke_role(
    principal: PrincipalPath,
    role: Role,
    services: ServicesDep,
    context: Context,
    response: Response,
) -> Roles:
    return await _set_role(services, context, response, RevokeRole(principal, role))
