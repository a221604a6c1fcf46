"""Build agents: register, heartbeat, inspect, drain, resume, deregister."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import PROTECTED, AgentCaller, Operating, Reading
from api.commands import Command, Registrant
from api.deps import SEQ_HEADER, Reader, ServicesDep, committed, found
from api.schemas import Body, Cursor, Limit, Page
from domain.agent import Agent, AgentStatus, HostInfo, Labels, Metrics
from domain.health import Percent
from domain.identity import PrincipalKind
from domain.queue import PoolName
from domain.values import Name, Text
from infra.agents import Beat
from infra.commands import Committed
from projections.agents import AgentView, with_beat
from projections.jobs import JobView

router = APIRouter(prefix="/api/agents", tags=["agents"], responses=PROTECTED)


class RegisterRequest(Body):
    name: Name
    pool: PoolName = "default"
    labels: Labels = ()
    version: Name = "unknown"
    host: HostInfo
    slots: Annotated[int, Field(ge=1, le=256)] = 1


class Registered(BaseModel):
    agent_id: UUID
    agent_token: str
    status: AgentStatus
    heartbeat_interval_s: float
    seq: int


class HeartbeatRequest(Body):
    cpu_pct: Percent
    mem_pct: Percent
    disk_pct: Percent
    running_jobs: Annotated[tuple[Name, ...], Field(max_length=256)] = ()
    """Ids of the jobs the agent runs now."""

    def metrics(self) -> Metrics:
        return Metrics(
            cpu_pct=self.cpu_pct,
            mem_pct=self.mem_pct,
            disk_pct=self.disk_pct,
            running_jobs=len(self.running_jobs),
        )


class Instruction(BaseModel):
    action: str = Field(description="`drain`: take no new work; `cancel`: stop job_id now.")
    job_id: str | None = None


class AgentHeartbeatAnswer(BaseModel):
    status: AgentStatus
    instructions: list[Instruction]
    heartbeat_interval_s: float
    agent_token: str
    """A fresh token with a full lifetime; the one sent keeps working until it expires."""


class AgentDetail(AgentView):
    last_heartbeat: Beat | None


class AgentJobs(BaseModel):
    current: list[JobView]
    recent: list[JobView]


class HealthCounts(BaseModel):
    by_status: dict[AgentStatus, int]
    by_pool: dict[str, dict[AgentStatus, int]]


class AgentAnswer(BaseModel):
    agent_id: UUID
    status: AgentStatus
    seq: int


class DeregisterRequest(Body):
    reason: Text = "deregistered"


def answer(response: Response, result: Committed[Agent]) -> AgentAnswer:
    committed(response, result)
    return AgentAnswer(agent_id=result.aggregate.id, status=result.aggregate.status, seq=result.seq)


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterRequest, services: ServicesDep, command: Registrant, response: Response
) -> Registered:
    """Needs the registration token (or a registration from `POST /api/auth/token`); the
    event names the new agent as its actor."""
    command.allow_pool(body.pool)
    agent_id = command.new_id("agent.register")
    done = await services.agents.register(
        command.cause("agent.register")._replace(actor=f"{PrincipalKind.AGENT}:{agent_id}"),
        agent_id,
        body.name,
        body.pool,
        frozenset(body.labels),
        body.version,
        body.host,
        body.slots,
    )
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
    page.items = await services.agents.with_last_beats(page.items)
    return page


@router.get("/health", dependencies=[Reading])
async def agent_health(services: Reader) -> HealthCounts:
    by_pool = services.views.agents.counts()
    totals: dict[AgentStatus, int] = {}
    for counts in by_pool.values():
        for state, n in counts.items():
            totals[state] = totals.get(state, 0) + n
    return HealthCounts(by_status=totals, by_pool=by_pool)


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
    agent_id: UUID, body: HeartbeatRequest, services: ServicesDep, agent: AgentCaller
) -> AgentHeartbeatAnswer:
    """Renews the agent's token too: use `agent_token` from the answer from then on."""
    agent.require_agent(str(agent_id))
    orders = await services.agents.heartbeat(str(agent_id), body.metrics(), body.running_jobs)
    return AgentHeartbeatAnswer(
        status=_view(services, agent_id).status,
        instructions=[Instruction(action=o.action, job_id=o.job_id) for o in orders],
        heartbeat_interval_s=services.settings.health.heartbeat_interval_s,
        agent_token=services.agents.fresh_token(str(agent_id)),
    )


@router.post("/{agent_id}/deregister")
async def leave(
    agent_id: UUID,
    services: ServicesDep,
    command: Command,
    agent: AgentCaller,
    response: Response,
    body: DeregisterRequest | None = None,
) -> AgentAnswer:
    """An agent deregistering itself as it stops: terminated at once, its token with it; a job
    it still holds goes back to the queue without costing an attempt."""
    agent.require_agent(str(agent_id))
    reason = (body or DeregisterRequest()).reason
    cause = command.cause("agent.deregister")
    return answer(response, await services.agents.deregister(cause, agent_id, reason))


@router.post("/{agent_id}/drain", dependencies=[Operating])
async def drain(
    agent_id: UUID, services: ServicesDep, command: Command, response: Response
) -> AgentAnswer:
    return answer(response, await services.agents.drain(command.cause("agent.drain"), agent_id))


@router.post("/{agent_id}/resume", dependencies=[Operating])
async def resume(
    agent_id: UUID, services: ServicesDep, command: Command, response: Response
) -> AgentAnswer:
    return answer(response, await services.agents.resume(command.cause("agent.resume"), agent_id))


@router.delete("/{agent_id}", dependencies=[Operating])
async def deregister(
    agent_id: UUID,
    services: ServicesDep,
    command: Command,
    response: Response,
    body: DeregisterRequest | None = None,
) -> AgentAnswer:
    reason = (body or DeregisterRequest()).reason
    cause = command.cause("agent.deregister")
    return answer(response, await services.agents.deregister(cause, agent_id, reason))
