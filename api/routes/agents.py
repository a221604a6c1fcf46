"""Build agents: register, heartbeat, inspect, drain, resume, deregister."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api import reads
from api.auth import PROTECTED, Operating, Reading
from api.commands import AgentCall, AgentContext, Context, Registrant
from api.deps import SEQ_HEADER, Reader, ServicesDep, committed, found
from api.schemas import Cursor, Limit
from domain.agent import Agent, AgentStatus
from domain.commands.fleet import (
    DeregisterAgent,
    DrainAgent,
    HeartbeatAgent,
    RegisterAgent,
    ResumeAgent,
)
from domain.commands.results import Committed
from infra.agents import Beat
from infra.dispatch import handle
from projections.agents import AgentView, with_beat
from wire.agents import (
    AgentAnswer,
    AgentHeartbeatAnswer,
    AgentJobs,
    DeregisterRequest,
    HealthCounts,
    HeartbeatRequest,
    Registered,
    RegisterRequest,
)
from wire.common import Page

router = APIRouter(prefix="/api/agents", tags=["agents"], responses=PROTECTED)


class AgentDetail(AgentView):
    last_heartbeat: Beat | None


def answer(response: Response, result: Committed[Agent]) -> AgentAnswer:
    committed(response, result)
    return AgentAnswer(agent_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterRequest, services: ServicesDep, context: Registrant, response: Response
) -> Registered:
    """Needs the registration token (or a registration from `POST /api/auth/token`); the
    event names the new agent as its actor."""
    command = RegisterAgent(
        body.name, body.pool, frozenset(body.labels), body.version, body.host, body.slots
    )
    done = await handle(services, command, context)
    response.headers[SEQ_HEADER] = str(done.seq)
    return Registered(
        agent_id=done.agent.id,
        agent_token=done.token,
        status=done.agent.status,
        heartbeat_interval_s=services.settings.health.heartbeat_interval_s,
        seq=done.seq,
    )


@router.get("", dependencies=[Reading])
async def list_agents(
    services: Reader,
    pool: Annotated[str | None, Query(max_length=64)] = None,
    status: AgentStatus | None = None,
    label: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AgentView]:
    page = Page.window(services.views.agents.select(pool, status, label), limit, cursor)
    page.items = await reads.with_beats(services, page.items)
    return page


@router.get("/health", dependencies=[Reading])
async def agent_health(services: Reader) -> HealthCounts:
    return reads.agent_health(services)


def _view(services: ServicesDep, agent_id: UUID) -> AgentView:
    return found(services.views.agents.get(str(agent_id)), Agent.KIND, agent_id)


@router.get("/{agent_id}", dependencies=[Reading])
async def get_agent(agent_id: UUID, services: Reader) -> AgentDetail:
    view = _view(services, agent_id)
    beat = await services.agents.last_beat(view.agent_id)
    shown = view if beat is None else with_beat(view, beat.at, beat.metrics)
    return AgentDetail(**shown.model_dump(), last_heartbeat=beat)


@router.get("/{agent_id}/jobs", dependencies=[Reading])
async def agent_jobs(agent_id: UUID, services: Reader) -> AgentJobs:
    _view(services, agent_id)
    current, recent = services.views.agents.jobs_of(str(agent_id))
    jobs = services.views.jobs
    return AgentJobs(
        current=[j for i in current if (j := jobs.get(i)) is not None],
        recent=[j for i in recent if (j := jobs.get(i)) is not None],
    )


@router.post("/{agent_id}/heartbeat")
async def heartbeat(
    agent_id: UUID, body: HeartbeatRequest, services: ServicesDep, context: AgentCall
) -> AgentHeartbeatAnswer:
    """Renews the agent's token too: use `agent_token` from the answer from then on."""
    # Answered from the read models once the beat is written; a 503 if not: send it again.
    command = HeartbeatAgent(str(agent_id), body.metrics(), body.running_jobs)
    return AgentHeartbeatAnswer.of(await handle(services, command, context))


@router.post("/{agent_id}/deregister")
async def leave(
    agent_id: UUID,
    services: ServicesDep,
    context: AgentContext,
    response: Response,
    body: DeregisterRequest | None = None,
) -> AgentAnswer:
    """An agent deregistering itself as it stops: terminated at once, its token with it; a job
    it still holds goes back to the queue without costing an attempt."""
    reason = (body or DeregisterRequest()).reason
    return answer(response, await handle(services, DeregisterAgent(agent_id, reason), context))


@router.post("/{agent_id}/drain", dependencies=[Operating])
async def drain(
    agent_id: UUID, services: ServicesDep, context: Context, response: Response
) -> AgentAnswer:
    return answer(response, await handle(services, DrainAgent(agent_id), context))


@router.post("/{agent_id}/resume", dependencies=[Operating])
async def resume(
    agent_id: UUID, services: ServicesDep, context: Context, response: Response
) -> AgentAnswer:
    return answer(response, await handle(services, ResumeAgent(agent_id), context))


@router.delete("/{agent_id}", dependencies=[Operating])
async def deregister(
    agent_id: UUID,
    services: ServicesDep,
    context: Context,
    response: Response,
    body: DeregisterRequest | None = None,
) -> AgentAnswer:
    reason = (body or DeregisterRequest()).reason
    return answer(response, await handle(services, DeregisterAgent(agent_id, reason), context))
