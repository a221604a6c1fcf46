"""Who is calling: the registration token for new agents, an agent token for agent calls."""

from __future__ import annotations

import hmac
from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import Command, ServicesDep
from domain.errors import ForbiddenError, UnauthorizedError
from domain.recorded import Cause

bearer = HTTPBearer(auto_error=False, description="Registration token or agent token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def registration(services: ServicesDep, credentials: Credentials) -> None:
    expected = services.settings.registration_token.encode()
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise UnauthorizedError("a valid registration token is required to register an agent")


async def calling_agent(services: ServicesDep, credentials: Credentials) -> str | None:
    """The agent the bearer token speaks for; None when agent auth is switched off."""
    if not services.settings.agent_auth:
        return None
    if credentials is None:
        raise UnauthorizedError("agent calls need `Authorization: Bearer <agent token>`")
    return await services.agents.authenticate(credentials.credentials)


CallingAgent = Annotated[str | None, Depends(calling_agent)]
Registration = Depends(registration)


def act_for(caller: str | None, agent_id: str | UUID) -> None:
    """An agent may act only for itself."""
    if caller is not None and caller != str(agent_id):
        raise ForbiddenError(f"this agent token is for agent {caller}, not {agent_id}")


def act_on_lease(services: ServicesDep, caller: str | None, job_id: UUID, token: str) -> None:
    """Only the holder of the claim may act on it."""
    act_for(caller, services.queue.claim_of(job_id, token).agent_id)


class AgentCall:
    """An agent's call on a job it leases: who it is, under which command id."""

    def __init__(self, services: ServicesDep, command: Command, caller: CallingAgent) -> None:
        self.services = services
        self.command = command
        self.caller = caller

    def on_lease(self, job_id: UUID, token: str, action: str) -> Cause:
        """Check the caller holds the claim; the event will name the agent as its actor."""
        act_on_lease(self.services, self.caller, job_id, token)
        return self.command.cause(action, self.caller or "api")


LeaseHolder = Annotated[AgentCall, Depends(AgentCall)]
