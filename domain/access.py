"""Access as events: the roles granted to a principal, and the service tokens admins issue.

Both are aggregates like any other, so who could do what at any instant is replayable and every
grant, issue and revocation names the admin who made it. Tokens are recorded by their SHA-256
only: a secret never reaches the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event
from pydantic import Field, StringConstraints

from domain.identity import Role
from domain.model import Aggregate
from domain.values import Name, Text

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PrincipalName = Annotated[str, StringConstraints(min_length=1, max_length=300)]
ServiceNames = Annotated[tuple[Name, ...], Field(max_length=100)]


def role_set_id(principal: str) -> UUID:
    """One aggregate per principal; the id follows from the principal's name."""
    return uuid5(NAMESPACE_URL, f"jetdeck:roles:{principal}")


class RoleSet(Aggregate):
    KIND = "role"
    id: UUID

    class Created(Aggregate.Created):
        principal: PrincipalName

    class Granted(Aggregate.Event):
        role: Role

    class Revoked(Aggregate.Event):
        role: Role

    @event(Created)
    def __init__(self, principal: PrincipalName) -> None:
        self.principal = principal
        self.roles: set[Role] = set()

    @classmethod
    def create(cls, principal: str) -> RoleSet:
        return cls(id=role_set_id(principal), principal=principal)  # type: ignore[call-arg]

    def grant(self, role: Role) -> None:
        """Granting a role already held records nothing."""
        if role not in self.roles:
            self._granted(role=role)

    def revoke(self, role: Role) -> None:
        if role in self.roles:
            self._revoked(role=role)

    @event(Granted)
    def _granted(self, role: Role) -> None:
        self.roles.add(role)

    @event(Revoked)
    def _revoked(self, role: Role) -> None:
        self.roles.discard(role)


class ServiceToken(Aggregate):
    """A bearer secret for a service; the principal is `service:<name>`."""

    KIND = "token"
    id: UUID

    class Issued(Aggregate.Created):
        name: Name
        sha256: Sha256
        roles: tuple[Role, ...]
        service_names: ServiceNames | None
        expires_at: datetime | None

    class Revoked(Aggregate.Event):
        reason: Text

    @event(Issued)
    def __init__(
        self,
        name: Name,
        sha256: Sha256,
        roles: tuple[Role, ...],
        service_names: ServiceNames | None,
        expires_at: datetime | None,
    ) -> None:
        self.name = name
        self.sha256 = sha256
        self.roles = roles
        self.service_names = service_names
        self.expires_at = expires_at
        self.revoked = False

    @classmethod
    def issue(
        cls,
        token_id: UUID,
        name: str,
        sha256: str,
        roles: frozenset[Role],
        service_names: frozenset[str] | None,
        expires_at: datetime | None,
    ) -> ServiceToken:
        return cls(  # type: ignore[call-arg]
            id=token_id,
            name=name,
            sha256=sha256,
            roles=tuple(sorted(roles)),
            service_names=None if service_names is None else tuple(sorted(service_names)),
            expires_at=expires_at,
        )

    def revoke(self, reason: str) -> None:
        """Revoking a revoked token records nothing."""
        if not self.revoked:
            self._revoked(reason=reason)

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        del reason
        self.revoked = True
