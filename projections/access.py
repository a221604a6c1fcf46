"""Who holds which roles, and the service tokens by the SHA-256 of their secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from domain.access import RoleSet, ServiceToken
from domain.identity import Role
from domain.model import DomainEvent
from domain.recorded import RecordedEvent


class TokenView(BaseModel):
    """What admins may see of a token: never its secret, nor the hash of it."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    name: str
    principal: str
    roles: tuple[Role, ...]
    service_names: tuple[str, ...] | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    revoked: bool = False


class AccessBoard:
    name: ClassVar[str] = "access"
    kinds: ClassVar[frozenset[str]] = frozenset({RoleSet.KIND, ServiceToken.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self) -> None:
        self.roles: dict[str, set[Role]] = {}
        self.principals: dict[str, str] = {}
        """Role-set aggregate id to the principal it belongs to."""
        self.tokens: dict[str, TokenView] = {}
        self.by_hash: dict[str, str] = {}

    def apply(self, recorded: RecordedEvent) -> None:
        match recorded.event:
            case RoleSet.Created(principal=principal):
                self.principals[recorded.aggregate_id] = principal
                self.roles.setdefault(principal, set())
            case RoleSet.Granted(role=role):
                self.roles[self.principals[recorded.aggregate_id]].add(role)
            case RoleSet.Revoked(role=role):
                self.roles[self.principals[recorded.aggregate_id]].discard(role)
            case ServiceToken.Issued() as e:
                self.by_hash[e.sha256] = recorded.aggregate_id
                self.tokens[recorded.aggregate_id] = TokenView(
                    token_id=recorded.aggregate_id,
                    name=e.name,
                    principal=f"service:{e.name}",
                    roles=e.roles,
                    service_names=e.service_names,
                    expires_at=e.expires_at,
                    created_at=recorded.at,
                    created_by=recorded.cause.actor,
                )
            case ServiceToken.Revoked():
                token = self.tokens[recorded.aggregate_id]
                self.tokens[recorded.aggregate_id] = token.model_copy(update={"revoked": True})

    def roles_of(self, principal: str) -> frozenset[Role]:
        return frozenset(self.roles.get(principal, ()))

    def users(self) -> dict[str, frozenset[Role]]:
        return {p: frozenset(roles) for p, roles in sorted(self.roles.items())}

    def active_token_named(self, name: str) -> bool:
        """Names are principals (`service:<name>`): two live tokens must not share one."""
        return any(t.name == name and not t.revoked for t in self.tokens.values())

    def token_by_hash(self, sha256: str) -> TokenView | None:
        token_id = self.by_hash.get(sha256)
        return None if token_id is None else self.tokens[token_id]

    def dump(self) -> Any:
        return {
            "roles": {p: sorted(r) for p, r in self.roles.items()},
            "principals": self.principals,
            "tokens": [t.model_dump(mode="json") for t in self.tokens.values()],
            "by_hash": self.by_hash,
        }

    def restore(self, data: Any) -> None:
        self.roles = {p: {Role(r) for r in roles} for p, roles in data["roles"].items()}
        self.principals = dict(data["principals"])
        self.tokens = {t["token_id"]: TokenView.model_validate(t) for t in data["tokens"]}
        self.by_hash = dict(data["by_hash"])
