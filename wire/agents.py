"""Build agents and their pools."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from domain.agent import AgentStatus, HostInfo, Labels
from domain.commands.results import Beaten
from domain.health import Metrics, Percent
from domain.queue import PoolName
from domain.values import Name, Text
from projections.jobs import JobView
from wire.common import Body

Count = Annotated[int, Field(ge=0, le=10_000)]


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

    @classmethod
    def of(cls, beaten: Beaten) -> AgentHeartbeatAnswer:
        orders = [Instruction(action=o.action, job_id=o.job_id) for o in beaten.instructions]
        return cls(
            status=beaten.status,
            instructions=orders,
            heartbeat_interval_s=beaten.interval_s,
            agent_token=beaten.token,
        )


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


class PoolRequest(Body):
    name: PoolName
    min_agents: Count = 0
    max_agents: Count = 10
    labels: Labels = ()


class Scaling(BaseModel):
    pool: str
    idle_agents: int
    busy_agents: int
    queue_depth: int
    oldest_wait_s: float | None
    min_agents: int
    max_agents: int
    desired_agents: int
    """busy + queued jobs (idle agents only, until the oldest has waited 30 s), in [min, max]."""
