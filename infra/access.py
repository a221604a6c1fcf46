"""Roles and service tokens: grant, revoke, issue, and turn a presented secret into a principal.

A token's secret is `jdsvc_` and 256 random bits; JetDeck keeps only its SHA-256 (the secret has
full entropy, so a slow password hash would add cost, not safety) and looks it up in the read
model every replica keeps, so a revocation reaches every replica with the event.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid5

from domain.access import RoleSet, ServiceToken, role_set_id
from domain.commands.access import IssueToken
from domain.commands.results import Committed
from domain.errors import ConcurrencyError, NotFoundError, UnauthorizedError
from domain.identity import Principal, PrincipalKind, Role, system
from domain.recorded import Cause
from infra.commands import CommandRunner
from infra.projection_runner import ProjectionRunner
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.unit_of_work import UnitOfWork
from projections.access import TokenView

SERVICE_PREFIX = "jdsvc_"
BOOTSTRAP_NAME = "admin"
BOOTSTRAPPER = str(system("bootstrap"))
log = logging.getLogger(__name__)


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    """A prefix makes a leaked secret easy to find; 32 random bytes make it unguessable."""
    return prefix + secrets.token_urlsafe(32)


class AccessService:
    def __init__(
        self, commands: CommandRunner, runner: ProjectionRunner, views: ReadModels
    ) -> None:
        self.commands = commands
        self.runner = runner
        self.views = views

    async def set_role(
        self, cause: Cause, principal: str, role: Role, granted: bool
    ) -> Committed[RoleSet]:
        async def decide(uow: UnitOfWork) -> RoleSet:
            try:
                roles = await uow.get(RoleSet, role_set_id(principal))
            except NotFoundError:
                uow.add(roles := RoleSet.create(principal))
            if granted:
                roles.grant(role)
            else:
                roles.revoke(role)
            return roles

        return await self.commands.run(cause, decide)

    async def issue(
        self,
        cause: Cause,
        token_id: UUID,
        name: str,
        roles: frozenset[Role],
        service_names: frozenset[str] | None,
        expires_at: datetime | None,
        secret: str | None = None,
    ) -> tuple[Committed[ServiceToken], str]:
        """A new token and its secret, which is shown once and kept nowhere."""
        secret = secret or new_secret(SERVICE_PREFIX)

        async def make(_: UnitOfWork) -> ServiceToken:
            return ServiceToken.issue(
                token_id, name, sha256(secret), roles, service_names, expires_at
            )

        return await self.commands.create(cause, make), secret

    async def revoke(self, cause: Cause, token_id: UUID, reason: str) -> Committed[ServiceToken]:
        async def decide(_: UnitOfWork, token: ServiceToken) -> None:
            token.revoke(reason)

        return await self.commands.update(cause, ServiceToken, token_id, decide)

    def service(self, secret: str, now: datetime) -> Principal:
        """The service a token secret speaks for; unknown, revoked or expired opens nothing."""
        token = self.views.access.token_by_hash(sha256(secret))
        if token is None or token.revoked:
            raise UnauthorizedError("unknown or revoked service token")
        if token.expires_at is not None and token.expires_at <= now:
            raise UnauthorizedError("expired service token")
        services = None if token.service_names is None else frozenset(token.service_names)
        return Principal(PrincipalKind.SERVICE, token.name, frozenset(token.roles), services)

    def user(self, email: str) -> Principal:
        """A logged-in person, with the roles admins granted; a first login holds none."""
        principal = f"{PrincipalKind.USER}:{email}"
        return Principal(PrincipalKind.USER, email, self.views.access.roles_of(principal))

    def token(self, token_id: str) -> TokenView:
        found = self.views.access.tokens.get(token_id)
        if found is None:
            raise NotFoundError(ServiceToken.KIND, token_id)
        return found

    async def bootstrap(self, settings: Settings) -> None:
        """Make sure an admin token exists: the configured one; else the one in the data
        directory's `admin-token`; else, on a log that never had one, a new one written there.

        Replicas starting together agree: the token's id follows from its hash, the file is
        created exclusively, and a lost race finds the winner's token."""
        path = settings.data_dir / "admin-token"
        if settings.bootstrap_admin_token is not None:
            secret = settings.bootstrap_admin_token.get_secret_value()
        elif path.exists():
            secret = path.read_text().strip()
        elif self._bootstrapped():
            log.info("an admin token was made before; %s is not here to say which", path)
            return
        else:
            secret = _claim_file(path, new_secret(SERVICE_PREFIX))
            _announce(path, secret)
        if self.views.access.token_by_hash(sha256(secret)) is None:
            await self._issue_bootstrap(secret, settings.read_wait_s)

    def _bootstrapped(self) -> bool:
        return any(t.created_by == BOOTSTRAPPER for t in self.views.access.tokens.values())

    async def _issue_bootstrap(self, secret: str, wait_s: float) -> None:
        token_id = uuid5(UUID(int=0), f"jetdeck:bootstrap:{sha256(secret)}")
        cause = Cause(BOOTSTRAPPER, f"bootstrap:{token_id.hex}", IssueToken.ACTION, token_id.hex)
        admin = frozenset({Role.ADMIN})
        try:
            result, _ = await self.issue(cause, token_id, BOOTSTRAP_NAME, admin, None, None, secret)
        except ConcurrencyError:  # another replica issued it first
            await self.runner.catch_up(wait_s)
            return
        await self.runner.wait_for(result.seq, wait_s)


def _claim_file(path: Path, secret: str) -> str:
    """Write `secret` to a new file (0600); if another process got there first, its secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def _announce(path: Path, secret: str) -> None:
    """Once, on the terminal of whoever ran `make run`; a log collector gets the path only."""
    if sys.stdout.isatty():
        print(f"JetDeck admin token (shown once, also in {path}): {secret}", flush=True)
    else:
        print(f"JetDeck admin token written to {path}", flush=True)


def utcnow() -> datetime:
    return datetime.now(UTC)
