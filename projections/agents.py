"""Agents and pools: who is registered, how healthy, what each runs, and each pool's settings."""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from domain.agent import TAKES_WORK, Agent, AgentStatus, HostInfo, Metrics, agent_status
from domain.job import Job
from domain.job_effects import entered_queue
from domain.job_status import JobStatus
from domain.model import DomainEvent
from domain.pool import DEFAULT_MAX_AGENTS, Pool
from domain.queue import DEFAULT_POOL
from domain.recorded import RecordedEvent

RECENT_JOBS = 20


class AgentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    name: str
    pool: str
    labels: tuple[str, ...]
    agent_version: str
    host: HostInfo
    slots: int
    status: AgentStatus
    health: AgentStatus
    health_reason: str = ""
    draining: bool = False
    terminated: bool = False
    metrics: Metrics | None = None
    """The latest heartbeat's figures (its time in `last_heartbeat_at`); in a past state, or
    with no heartbeat on hand, those of the last change of health."""
    last_heartbeat_at: datetime | None = None
    registered_at: datetime
    changed_at: datetime
    last_seq: int


def with_beat(view: AgentView, at: datetime, metrics: Metrics) -> AgentView:
    """The view with a heartbeat's figures. Heartbeats are not events (only a change of health
    is), so the board itself holds the figures of the last change."""
    return view.model_copy(update={"metrics": metrics, "last_heartbeat_at": at})


def _with(view: AgentView, recorded: RecordedEvent, **changes: Any) -> AgentView:
    merged = view.model_dump() | changes
    status = agent_status(merged["health"], merged["draining"], merged["terminated"])
    return view.model_copy(
        update=changes | {"status": status, "changed_at": recorded.at, "last_seq": recorded.seq}
    )


def evolve(view: AgentView | None, recorded: RecordedEvent) -> AgentView | None:
    match recorded.event:
        case Agent.Registered() as e:
            return AgentView(
                agent_id=recorded.aggregate_id,
                name=e.name,
                pool=e.pool,
                labels=e.labels,
                agent_version=e.agent_version,
                host=e.host,
                slots=e.slots,
                status=AgentStatus.REGISTERING,
                health=AgentStatus.REGISTERING,
                registered_at=e.timestamp,
                changed_at=e.timestamp,
                last_seq=recorded.seq,
            )
        case _ if view is None:
            return None
        case Agent.HealthChanged() as e:
            metrics = e.metrics or view.metrics
            return _with(view, recorded, health=e.status, health_reason=e.reason, metrics=metrics)
        case Agent.DrainRequested():
            return _with(view, recorded, draining=True)
        case Agent.Resumed():
            return _with(view, recorded, draining=False)
        case Agent.Deregistered():
            return _with(view, recorded, terminated=True)
    return view


class AgentBoard:
    name: ClassVar[str] = "agents"
    kinds: ClassVar[frozenset[str]] = frozenset({Agent.KIND, Job.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset[type[DomainEvent]](
        (
            Job.Created,
            Job.Queued,
            Job.Requeued,
            Job.Started,
        )
    )

    def __init__(self) -> None:
        self.agents: dict[str, AgentView] = {}
        self.holder: dict[str, str] = {}
        """job id -> the agent whose lease it is under."""
        self.current: dict[str, set[str]] = {}
        self.recent: dict[str, deque[str]] = {}
        self.claimed_by: dict[str, str] = {}
        """job id -> the agent that claimed it last, until the job ends: an agent whose lease
        ran out may still be running it."""
        self.cancelled: dict[str, deque[str]] = {}
        """agent id -> the jobs cancelled lately after it claimed them, which its heartbeat may
        still report running (the answer tells it to stop them)."""

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind == Agent.KIND:
            after = evolve(self.agents.get(recorded.aggregate_id), recorded)
            if after is not None:
                self.agents[after.agent_id] = after
            return
        match recorded.event:
            case Job.Claimed(agent_id=agent_id):
                self.holder[recorded.aggregate_id] = agent_id
                self.claimed_by[recorded.aggregate_id] = agent_id
                self.current.setdefault(agent_id, set()).add(recorded.aggregate_id)
                recent = self.recent.setdefault(agent_id, deque(maxlen=RECENT_JOBS))
                recent.append(recorded.aggregate_id)
            case Job.Completed(status=status):
                self._let_go(recorded.aggregate_id)
                claimer = self.claimed_by.pop(recorded.aggregate_id, None)
                if claimer is not None and status is JobStatus.CANCELLED:
                    cancelled = self.cancelled.setdefault(claimer, deque(maxlen=RECENT_JOBS))
                    cancelled.append(recorded.aggregate_id)
            case Job.DeadLettered():
                self._let_go(recorded.aggregate_id)
                self.claimed_by.pop(recorded.aggregate_id, None)  # it ended, until a retry
            case Job.Failed() | Job.AttemptLost() | Job.Released():
                self._let_go(recorded.aggregate_id)

    def _let_go(self, job_id: str) -> str | None:
        """The agent that held the job, which holds it no longer."""
        held_by = self.holder.pop(job_id, None)
        if held_by is not None:
            self.current[held_by].discard(job_id)
        return held_by

    def cancelled_of(self, agent_id: str) -> frozenset[str]:
        return frozenset(self.cancelled.get(agent_id, ()))

    def get(self, agent_id: str) -> AgentView | None:
        return self.agents.get(agent_id)

    def select(
        self, pool: str | None, status: AgentStatus | None, label: str | None
    ) -> list[AgentView]:
        return [
            a
            for a in sorted(self.agents.values(), key=lambda a: a.registered_at)
            if (pool is None or a.pool == pool)
            and (status is None or a.status is status)
            and (label is None or label in a.labels)
        ]

    def jobs_of(self, agent_id: str) -> tuple[list[str], list[str]]:
        """The jobs the agent holds now, and the ones it held lately (newest first)."""
        return sorted(self.current.get(agent_id, ())), list(reversed(self.recent.get(agent_id, ())))

    def counts(self) -> dict[str, dict[AgentStatus, int]]:
        """Per pool, how many agents are in each status."""
        out: dict[str, Counter[AgentStatus]] = {}
        for agent in self.agents.values():
            out.setdefault(agent.pool, Counter())[agent.status] += 1
        return {pool: dict(counter) for pool, counter in sorted(out.items())}

    def idle_and_busy(self, pool: str) -> tuple[int, int]:
        """Agents able to take work, split by whether they run anything now."""
        working = [a for a in self.agents.values() if a.pool == pool and a.status in TAKES_WORK]
        busy = sum(1 for a in working if self.current.get(a.agent_id))
        return len(working) - busy, busy

    def dump(self) -> Any:
        return {
            "agents": [a.model_dump(mode="json") for a in self.agents.values()],
            "holder": self.holder,
            "recent": {a: list(jobs) for a, jobs in self.recent.items()},
            "claimed_by": self.claimed_by,
            "cancelled": {a: list(jobs) for a, jobs in self.cancelled.items()},
        }

    def restore(self, data: Any) -> None:
        self.agents = {a["agent_id"]: AgentView.model_validate(a) for a in data["agents"]}
        self.holder = dict(data["holder"])
        self.current = {}
        for job_id, agent_id in self.holder.items():
            self.current.setdefault(agent_id, set()).add(job_id)
        self.recent = {a: deque(jobs, maxlen=RECENT_JOBS) for a, jobs in data["recent"].items()}
        self.claimed_by = dict(data["claimed_by"])
        self.cancelled = {
            a: deque(jobs, maxlen=RECENT_JOBS) for a, jobs in data["cancelled"].items()
        }


class PoolView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    min_agents: int
    max_agents: int
    labels: tuple[str, ...]
    paused: bool = False
    pause_reason: str = ""


class PoolBoard:
    """Declared pools, and the pools in use that nobody declared: `default`, and any pool an
    agent registered in or a job was queued to."""

    name: ClassVar[str] = "pools"
    kinds: ClassVar[frozenset[str]] = frozenset({Pool.KIND, Agent.KIND, Job.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset[type[DomainEvent]](
        (
            Agent.HealthChanged,
            Agent.DrainRequested,
            Agent.Resumed,
            Agent.Deregistered,
            Job.Claimed,
            Job.Started,
            Job.Completed,
            Job.Failed,
            Job.AttemptLost,
            Job.Released,
            Job.DeadLettered,
        )
    )

    def __init__(self) -> None:
        self.pools: dict[str, PoolView] = {}
        self.names: dict[str, str] = {}
        self.in_use: set[str] = {DEFAULT_POOL}

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind == Agent.KIND:
            if isinstance(recorded.event, Agent.Registered):
                self.in_use.add(recorded.event.pool)
            return
        if recorded.kind == Job.KIND:
            if (spec := entered_queue(recorded.event)) is not None:
                self.in_use.add(spec.pool)
            return
        if recorded.kind != Pool.KIND:
            return
        if isinstance(recorded.event, Pool.Created):
            e = recorded.event
            self.names[recorded.aggregate_id] = e.name
            self.pools[e.name] = PoolView(
                name=e.name, min_agents=e.min_agents, max_agents=e.max_agents, labels=e.labels
            )
            return
        name = self.names[recorded.aggregate_id]
        match recorded.event:
            case Pool.LimitsChanged(min_agents=low, max_agents=high):
                update: dict[str, Any] = {"min_agents": low, "max_agents": high}
            case Pool.Paused(reason=reason):
                update = {"paused": True, "pause_reason": reason}
            case Pool.Resumed():
                update = {"paused": False, "pause_reason": ""}
            case _:
                return
        self.pools[name] = self.pools[name].model_copy(update=update)

    def get(self, name: str) -> PoolView | None:
        """A declared pool; one in use that nobody declared has the default limits."""
        found = self.pools.get(name)
        if found is None and name in self.in_use:
            return PoolView(name=name, min_agents=0, max_agents=DEFAULT_MAX_AGENTS, labels=())
        return found

    def listing(self) -> list[PoolView]:
        """Every pool declared or in use, by name."""
        names = sorted(self.pools.keys() | self.in_use)
        return [view for name in names if (view := self.get(name)) is not None]

    def paused(self, pool: str) -> bool:
        found = self.pools.get(pool)
        return found is not None and found.paused

    def dump(self) -> Any:
        return {
            "pools": [p.model_dump() for p in self.pools.values()],
            "names": self.names,
            "in_use": sorted(self.in_use),
        }

    def restore(self, data: Any) -> None:
        self.pools = {p["name"]: PoolView.model_validate(p) for p in data["pools"]}
        self.names = dict(data["names"])
        self.in_use = set(data["in_use"])
