"""Admin: service tokens, and the roles granted to users and services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status
from pydantic import AfterValidator, BaseModel, Field, model_validator

from api.auth import PROTECTED, Administering
from api.commands import Command
from api.deps import ServicesDep, committed
from api.schemas import Body, Cursor, Limit, Page
from domain.access import ServiceNames
from domain.errors import ValidationError as DomainValidationError
from domain.identity import Role, user_principal
from domain.values import Name, Text
from projections.access import TokenView

router = APIRouter(
    prefix="/api/auth", tags=["auth"], dependencies=[Administering], responses=PROTECTED
)


def _future(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value <= datetime.now(UTC)):
        raise ValueError("must be a time in the future, with its UTC offset")
    return value


def _granted_principal(value: str) -> str:
    try:
        return user_principal(value)
    except DomainValidationError as exc:
        raise ValueError(str(exc)) from None


SERVICE_ROLES = frozenset({Role.VIEWER, Role.REPORTER, Role.DEPLOYER})
"""What a token limited to some services may hold: the rest is not about services."""

PrincipalPath = Annotated[
    str,
    Path(max_length=300, description="`user:<email>`; a service's roles are its token's"),
    AfterValidator(_granted_principal),
]


class TokenRequest(Body):
    name: Annotated[Name, Field(pattern=r"^[A-Za-z0-9._-]+$")]
    """The token's principal is `service:<name>`; events it causes name it."""
    roles: Annotated[frozenset[Role], Field(min_length=1)]
    service_names: ServiceNames | None = None
    """When set, the token touches only these services' deployments."""
    expires_at: Annotated[datetime | None, AfterValidator(_future)] = None

    @model_validator(mode="after")
    def _limited_tokens_only_report_and_deploy(self) -> TokenRequest:
        if self.service_names is not None and not self.roles <= SERVICE_ROLES:
            raise ValueError("a token limited to services may hold only viewer, reporter, deployer")
        return self


class IssuedToken(TokenView):
    token: str
    """The secret, shown this once: JetDeck keeps only its hash."""
    seq: int


class RevokeRequest(Body):
    reason: Text = "revoked"


class RoleRequest(Body):
    role: Role


class Roles(BaseModel):
    principal: str
    roles: list[Role]
    seq: int | None = None


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
async def issue_token(
    body: TokenRequest, services: ServicesDep, command: Command, response: Response
) -> IssuedToken:
    names = None if body.service_names is None else frozenset(body.service_names)
    if services.views.access.active_token_named(body.name):
        raise DomainValidationError(f"a token named {body.name!r} is active: revoke it first")
    result, secret = await services.access.issue(
        command.cause("token.issue"),
        command.new_id("token.issue"),
        body.name,
        body.roles,
        names,
        body.expires_at,
    )
    committed(response, result)
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
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
    command: Command,
    response: Response,
    body: RevokeRequest | None = None,
) -> TokenView:
    """The token opens nothing from this answer on, here and on every replica that has read
    the revocation."""
    services.access.token(str(token_id))
    reason = (body or RevokeRequest()).reason
    result = await services.access.revoke(command.cause("token.revoke"), token_id, reason)
    committed(response, result)
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
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
    command: Command,
    response: Response,
    principal: str,
    role: Role,
    on: bool,
) -> Roles:
    action = "role.grant" if on else "role.revoke"
    result = await services.access.set_role(command.cause(action), principal, role, on)
    committed(response, result)
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
    roles = sorted(services.views.access.roles_of(principal))
    return Roles(principal=principal, roles=roles, seq=result.seq)


@router.post("/users/{principal}/roles")
async def grant_role(
    principal: PrincipalPath,
    body: RoleRequest,
    services: ServicesDep,
    command: Command,
    response: Response,
) -> Roles:
    """Takes effect on the principal's next request; granting a held role records nothing."""
    return await _set_role(services, command, response, principal, body.role, True)


@router.delete("/users/{principal}/roles/{role}")
async def revoke_role(
    principal: PrincipalPath,
    role: Role,
    services: ServicesDep,
    command: Command,
    response: Response,
) -> Roles:
    return await _set_role(services, command, response, principal, role, False)
