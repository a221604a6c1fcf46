"""What every command shares: the answer it promises, its action, and the context it is sent in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.errors import ForbiddenError
from domain.identity import Principal, PrincipalKind
from domain.recorded import Cause

R = TypeVar("R")


@dataclass(frozen=True)
class Command(Generic[R]):
    """A request to change something; `R` is what its handler answers with."""

    ACTION: ClassVar[str]
    """Recorded as the `action` of every event the command appends."""

    @property
    def action(self) -> str:
        return self.ACTION


class CommandContext:
    """Who sent a command and under which id: `<principal>|<Idempotency-Key or a fresh id>`, so
    the id names the caller and nobody can squat a key another principal will use. The request's
    hash goes into every event, so a key reused for another request is refused."""

    def __init__(
        self,
        principal: Principal,
        key: str | None,
        correlation_id: str | None,
        request_hash: str = "",
    ) -> None:
        self.principal = principal
        self.actor = str(principal)
        self.key = key
        self._correlation_id = correlation_id
        self.request_hash = request_hash

    @cached_property
    def command_id(self) -> str:
        """Made when first asked for: a heartbeat, which records and logs nothing, never pays for
        a fresh id."""
        return f"{self.actor}|{self.key or uuid4().hex}"

    @property
    def correlation_id(self) -> str:
        return self._correlation_id or self.command_id

    def cause(self, action: str) -> Cause:
        return Cause(
            actor=self.actor,
            command_id=self.command_id,
            action=action,
            correlation_id=self.correlation_id,
            request_hash=self.request_hash,
        )

    def part(self, index: int, request_hash: str) -> CommandContext:
        """The context of a batch's `index`th command: a key of its own (the batch's key and the
        index), so each part is retried, deduplicated and answered on its own."""
        key = None if self.key is None else f"{self.key}#{index}"
        return CommandContext(self.principal, key, self.correlation_id, request_hash)

    def new_id(self, action: str) -> UUID:
        """A retried create with the same key must aim at the same aggregate."""
        if self.key is None:
            return uuid4()
        return uuid5(NAMESPACE_URL, f"jetdeck:{action}:{self.command_id}")


class RegistrationContext(CommandContext):
    """A registration: the agent it makes is its actor, and its command id names the registrar,
    so the log says who vouched and keys are shared with no other registrar."""

    def __init__(
        self,
        registrar: str,
        pool: str | None,
        key: str | None,
        correlation_id: str | None,
        request_hash: str = "",
    ) -> None:
        principal = Principal(PrincipalKind.SYSTEM, registrar)
        super().__init__(principal, key, correlation_id, request_hash)
        self.pool = pool
        """The one pool this registrar may register agents in; None: any."""

    def allow_pool(self, pool: str) -> None:
        if self.pool is not None and pool != self.pool:
            raise ForbiddenError(f"this registration is for pool {self.pool!r}, not {pool!r}")
