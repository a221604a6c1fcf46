"""The context a command is sent in, taken from the request: who sent it, under which id, in
which conversation. Routes build the command from the body and send both to `infra.dispatch`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from api.auth import AgentCaller, Caller, Registrar, registration
from api.idempotency import Keyed
from domain.commands.base import CommandContext, RegistrationContext

CorrelationHeader = Annotated[
    str | None, Header(alias="X-Correlation-Id", min_length=1, max_length=200)
]


async def command_context(
    keyed: Keyed, principal: Caller, correlation: CorrelationHeader = None
) -> CommandContext:
    return CommandContext(principal, keyed.key, correlation, keyed.request_hash)


Context = Annotated[CommandContext, Depends(command_context)]


async def agent_context(
    keyed: Keyed, agent: AgentCaller, correlation: CorrelationHeader = None
) -> CommandContext:
    return CommandContext(agent, keyed.key, correlation, keyed.request_hash)


AgentContext = Annotated[CommandContext, Depends(agent_context)]
"""A build agent's call for itself, under an idempotency key."""


async def agent_call(agent: AgentCaller) -> CommandContext:
    return CommandContext(agent, None, None)


AgentCall = Annotated[CommandContext, Depends(agent_call)]
"""A build agent's call that takes no key: a claim asks for new work each time."""


async def registration_context(
    keyed: Keyed,
    registrar: Annotated[Registrar, Depends(registration)],
    correlation: CorrelationHeader = None,
) -> RegistrationContext:
    return RegistrationContext(
        registrar.name, registrar.pool, keyed.key, correlation, keyed.request_hash
    )


Registrant = Annotated[RegistrationContext, Depends(registration_context)]
