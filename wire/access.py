"""Admins' bodies: service tokens, roles, trust policies; and the token exchange's answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from domain.access import ServiceNames
from domain.identity import Role
from domain.values import Name, Text
from projections.access import TokenView
from wire.common import Body


def _future(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value <= datetime.now(UTC)):
        raise ValueError("must be a time in the future, with its UTC offset")
    return value


SERVICE_ROLES = frozenset({Role.VIEWER, Role.REPORTER, Role.DEPLOYER})
"""What a token limited to some services may hold: the rest is not about services."""


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


class PolicyDeleted(BaseModel):
    policy_id: UUID
    seq: int


class ExchangeForm(BaseModel):
    """`audience`, `scope` and the other optional RFC 8693 fields are accepted and ignored:
    the trust policy decides what the token is worth."""

    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"]
    subject_token: Annotated[str, Field(min_length=1)]
    subject_token_type: Literal[
        "urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"
    ]


class Exchanged(BaseModel):
    access_token: str
    """A `jdreg_` registration: the bearer token of `POST /api/agents/register`."""
    issued_token_type: Literal["urn:ietf:params:oauth:token-type:access_token"] = (
        "urn:ietf:params:oauth:token-type:access_token"
    )
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
