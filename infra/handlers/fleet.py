"""Agents and pools."""

from __future__ import annotations

from domain.agent import Agent
from domain.commands.base import CommandContext, RegistrationContext
from domain.commands.fleet import (
    CreatePool,
    DeregisterAgent,
    DrainAgent,
    HeartbeatAgent,
    PausePool,
    RegisterAgent,
    ResumeAgent,
    ResumePool,
)
from domain.commands.results import Beaten, Committed, Registration
from domain.errors import ForbiddenError
from domain.identity import PrincipalKind
from domain.pool import Pool
from infra.handlers.settle import settled
from infra.services import Services


async def register_agent(
    services: Services, command: RegisterAgent, context: CommandContext
) -> Registration:
    if not isinstance(context, RegistrationContext):
        raise ForbiddenError("only a registrar may register an agent")
    context.allow_pool(command.pool)
    agent_id = context.new_id(command.action)
    cause = context.cause(command.action)._replace(actor=f"{PrincipalKind.AGENT}:{agent_id}")
    return await services.agents.register(
        cause,
        agent_id,
        command.name,
        command.pool,
        command.labels,
        command.version,
        command.host,
        command.slots,
    )


async def heartbeat_agent(
    services: Services, command: HeartbeatAgent, context: CommandContext
) -> Beaten:
    context.principal.require_agent(command.agent_id)
    agents = services.agents
    return await agents.heartbeat(command.agent_id, command.metrics, command.running_jobs)


async def deregister_agent(
    services: Services, command: DeregisterAgent, context: CommandContext
) -> Committed[Agent]:
    """An agent may deregister itself only."""
    context.principal.require_agent(str(command.agent_id))
    cause = context.cause(command.action)
    return await services.agents.deregister(cause, command.agent_id, command.reason)


async def drain_agent(
    services: Services, command: DrainAgent, context: CommandContext
) -> Committed[Agent]:
    return await services.agents.drain(context.cause(command.action), command.agent_id)


async def resume_agent(
    services: Services, command: ResumeAgent, context: CommandContext
) -> Committed[Agent]:
    return await services.agents.resume(context.cause(command.action), command.agent_id)


async def create_pool(
    services: Services, command: CreatePool, context: CommandContext
) -> Committed[Pool]:
    result = await services.pools.create(
        context.cause(command.action),
        command.name,
        command.min_agents,
        command.max_agents,
        command.labels,
    )
    return await settled(services, result)


async def pause_pool(
    services: Services, command: PausePool, context: CommandContext
) -> Committed[Pool]:
    """Claims read the pause from the read models: once this answers, no claim here misses it."""
    cause = context.cause(command.action)
    return await settled(
        services, await services.pools.set_paused(cause, command.pool, True, command.reason)
    )


async def resume_pool(
    services: Services, command: ResumePool, context: CommandContext
) -> Committed[Pool]:
    cause = context.cause(command.action)
    return await services.pools.set_paused(cause, command.pool, False)
