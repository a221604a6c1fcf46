"""Admins: service tokens, roles and trust policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.access import RoleSet, ServiceToken
from domain.commands.base import Command
from domain.commands.results import Committed
from domain.identity import Role
from domain.trust import PolicyTerms, TrustPolicy


@dataclass(frozen=True)
class IssueToken(Command[tuple[Committed[ServiceToken], str]]):
    """Answers the token and its secret, which is shown once and kept nowhere."""

    ACTION = "token.issue"
    name: str
    roles: frozenset[Role]
    service_names: frozenset[str] | None
    expires_at: datetime | None


@dataclass(frozen=True)
class RevokeToken(Command[Committed[ServiceToken]]):
    ACTION = "token.revoke"
    token_id: UUID
    reason: str


@dataclass(frozen=True)
class GrantRole(Command[Committed[RoleSet]]):
    ACTION = "role.grant"
    principal: str
    role: Role


@dataclass(frozen=True)
class RevokeRole(Command[Committed[RoleSet]]):
    ACTION = "role.revoke"
    principal: str
    role: Role


@dataclass(frozen=True)
class CreateTrustPolicy(Command[Committed[TrustPolicy]]):
    ACTION = "trust.create"
    terms: PolicyTerms


@dataclass(frozen=True)
class ChangeTrustPolicy(Command[Committed[TrustPolicy]]):
    ACTION = "trust.change"
    policy_id: UUID
    terms: PolicyTerms


@dataclass(frozen=True)
class DeleteTrustPolicy(Command[Committed[TrustPolicy]]):
    ACTION = "trust.delete"
    policy_id: UUID
