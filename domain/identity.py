"""Who may do what: principals, their roles, and the permissions each role holds.

Every command is caused by one principal, recorded as the `actor` of the events it appends:
`user:<email>`, `service:<name>`, `agent:<id>` or `system:<worker>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import ForbiddenError, ValidationError


class PrincipalKind(StrEnum):
    USER = "user"
    SERVICE = "service"
    AGENT = "agent"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"
    """A caller with no credentials, let in to read when anonymous reads are switched on."""


class Role(StrEnum):
    VIEWER = "viewer"
    REPORTER = "reporter"
    DEPLOYER = "deployer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"
    """Every read of jobs, deployments, agents, pools, the queue and the audit trail."""
    REPORT = "report"
    """Report jobs; create deployments and report their staging outcome."""
    DEPLOY = "deploy"
    """Report production outcomes (promote) and roll back."""
    OPERATE = "operate"
    """Pools, pause and resume, drain/resume/deregister agents, cancel, dead letters, enqueue."""
    ADMIN = "admin"
    """Users, roles, service tokens and trust policies."""
    AGENT = "agent"
    """The calls a build agent makes on its own behalf: heartbeats, claims, leases, logs."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.REPORTER: frozenset({Permission.READ, Permission.REPORT}),
    Role.DEPLOYER: frozenset({Permission.READ, Permission.REPORT, Permission.DEPLOY}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    # Admins run the place: the bootstrap token must be able to walk the whole quick tour.
    Role.ADMIN: frozenset(Permission) - {Permission.AGENT},
}


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller. `services`, when set, limits which services' deployments it touches."""

    kind: PrincipalKind
    name: str
    roles: frozenset[Role] = frozenset()
    services: frozenset[str] | None = None

    def __str__(self) -> str:
        return (
            self.kind.value if self.kind is PrincipalKind.ANONYMOUS else f"{self.kind}:{self.name}"
        )

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.kind is PrincipalKind.AGENT:
            return frozenset({Permission.AGENT})
        if self.kind is PrincipalKind.ANONYMOUS:
            return frozenset({Permission.READ})
        return frozenset().union(*(ROLE_PERMISSIONS[role] for role in self.roles))

    def require(self, *needed: Permission) -> None:
        """Refuse unless the principal holds one of `needed`, naming what is missing."""
        if not self.permissions.intersection(needed):
            wanted = " or ".join(p.value for p in needed)
            held = ", ".join(sorted(r.value for r in self.roles)) or "none"
            raise ForbiddenError(f"{self} needs the {wanted} permission (roles: {held})")

    def require_service(self, service_name: str) -> None:
        """A principal limited to some services may touch only their deployments."""
        if self.services is not None and service_name not in self.services:
            raise ForbiddenError(f"{self} may not touch deployments of service {service_name!r}")

    def require_agent(self, agent_id: str) -> None:
        """An agent may act only for itself."""
        if self.kind is PrincipalKind.AGENT and self.name != agent_id:
            raise ForbiddenError(f"this agent token is for agent {self.name}, not {agent_id}")


def system(worker: str) -> Principal:
    """One of JetDeck's own workers, named in the events it causes."""
    return Principal(PrincipalKind.SYSTEM, worker)


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS, "")


MAX_EMAIL = 254


def user_principal(text: str) -> str:
    """`user:<email>`, the one kind of principal roles are granted to (a service's roles are its
    token's), normalized as logins spell it: emails compare case-insensitively."""
    kind, _, email = text.strip().partition(":")
    email = email.lower()
    valid = kind == PrincipalKind.USER and "@" in email and len(email) <= MAX_EMAIL
    if not valid or any(c.isspace() for c in email):
        raise ValidationError(f"roles are granted to user:<email>, not to {text!r}")
    return f"{PrincipalKind.USER}:{email}"
