"""The context every command is built in: who sent it, under which id, in which conversation."""

from __future__ import annotations

from typing import Annotated
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from fastapi import Depends, Header

from api.auth import AgentCaller, Caller, Registrar, act_on_lease, registration
from api.deps import ServicesDep
from api.idempotency import Keyed, KeyedRequest
from domain.errors import ForbiddenError
from domain.identity import Principal, PrincipalKind
from domain.recorded import Cause

CorrelationHeader = Annotated[
    str | None, Header(alias="X-Correlation-Id", min_length=1, max_length=200)
]


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
        self.command_id = f"{self.actor}|{key or uuid4().hex}"
        self.correlation_id = correlation_id or self.command_id
        self.request_hash = request_hash

    def cause(self, action: str) -> Cause:
        return Cause(
            actor=self.actor,
            command_id=self.command_id,
            action=action,
            correlation_id=self.correlation_id,
            request_hash=self.request_hash,
        )

    def new_id(self, action: str) -> UUID:
        """A retried create with the same key must aim at the same aggregate."""
        if self.key is None:
            return uuid4()
        return uuid5(NAMESPACE_URL, f"jetdeck:{action}:{self.command_id}")


async def command_context(
    keyed: Keyed, principal: Caller, correlation: CorrelationHeader = None
) -> CommandContext:
    return CommandContext(principal, keyed.key, correlation, keyed.request_hash)


Command = Annotated[CommandContext, Depends(command_context)]


class AgentCall:
    """An agent's call on a job it leases: who it is, under which command id."""

    def __init__(self, services: ServicesDep, command: Command, agent: AgentCaller) -> None:
        self.services = services
        self.command = command
        self.agent = agent

    def on_lease(self, job_id: UUID, token: str, action: str) -> Cause:
        """Check the caller holds the claim; the event will name the agent as its actor."""
        act_on_lease(self.services, self.agent, job_id, token)
        return self.command.cause(action)


LeaseHolder = Annotated[AgentCall, Depends(AgentCall)]


class Registration(CommandContext):
    """A registration: the agent it makes is its actor, and its command id names the registrar,
    so the log says who vouched and keys are shared with no other registrar."""

    def __init__(
        self, registrar: Registrar, keyed: KeyedRequest, correlation_id: str | None
    ) -> None:
        principal = Principal(PrincipalKind.SYSTEM, registrar.name)
        super().__init__(principal, keyed.key, correlation_id, keyed.request_hash)
        self.pool = registrar.pool

    def allow_pool(self, pool: str) -> None:
        if self.pool is not None and pool != self.pool:
            raise ForbiddenError(f"this registration is for pool {self.pool!r}, not {pool!r}")


async def registration_context(
    keyed: Keyed,
    registrar: Annotated[Registrar, Depends(registration)],
    correlation: CorrelationHeader = None,
) -> Registration:
    return Registration(registrar, keyed, correlation)


Registrant = Annotated[Registration, Depends(registration_context)]
