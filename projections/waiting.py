"""What holds a queued job back: the facts the read models give, and which causes they make
hold, in the order the first one wins (`PRECEDENCE`; docs/architecture.md, Queue). Pure: it
reads the state it is handed and the time it is given. `projections.why_waiting` says it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.agent import TAKES_WORK, AgentStatus
from domain.job_status import JobStatus
from domain.queue import PRIORITY_ORDER, Priority, QueueSpec, eligible
from projections.agents import AgentBoard, AgentView, PoolBoard, PoolView
from projections.jobs import JobBoard, JobView
from projections.queue import QueueBoard, Ticket

MAX_LISTED = 20
"""Agents named in the facts; the counts cover them all."""
RANK = {priority: rank for rank, priority in enumerate(PRIORITY_ORDER)}


class WaitReason(StrEnum):
    POOL_PAUSED = "pool_paused"
    SCHEDULED = "scheduled"
    BACKING_OFF = "backing_off"
    NO_CAPABLE_AGENT = "no_capable_agent"
    AGENTS_UNAVAILABLE = "agents_unavailable"
    AGENTS_BUSY = "agents_busy"
    NEXT_UP = "next_up"
    NOT_WAITING = "not_waiting"


R = WaitReason
PRECEDENCE = (
    R.POOL_PAUSED,
    R.SCHEDULED,
    R.BACKING_OFF,
    R.NO_CAPABLE_AGENT,
    R.AGENTS_UNAVAILABLE,
    R.AGENTS_BUSY,
)
"""The causes that can hold a queued job back, the winner first: an operator's pause, which
only they can lift; then a time that must pass, which no agent can shorten; then the fleet:
no agent able to run it (someone must fix labels or pools), every able one unavailable (fix
the agents), every available one busy (only waiting helps)."""


class AgentFact(BaseModel):
    """An agent of the job's pool, as the answer tells of it."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    name: str
    labels: tuple[str, ...]
    status: AgentStatus
    reason: str = ""
    """What its health is down to, when its health is its status."""
    running: int
    slots: int
    changed_at: datetime


class Place(BaseModel):
    """A due job's place in its pool's line: strict priority, FIFO by ticket inside a level."""

    model_config = ConfigDict(frozen=True)

    position: int
    """1 for the next job the pool hands out."""
    higher: int
    """Due jobs of a higher priority, all ahead of it."""
    older: int
    """Due jobs of its own priority queued before it."""
    due: int
    """Due jobs in the pool's line, itself included."""


class WaitFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    pool: str
    priority: Priority
    labels: tuple[str, ...]
    attempts: int
    queued_at: datetime | None
    pool_paused: bool
    pause_reason: str
    run_at: datetime | None
    """Its `run_at` while that is ahead."""
    retry_at: datetime | None
    """The end of its backoff after a failed attempt, while that is ahead."""
    agents_in_pool: int
    """Registered and not deregistered."""
    capable_agents: int
    available_agents: int
    """Capable and taking work (healthy or degraded)."""
    free_agents: int
    """Available with a free slot."""
    agents: tuple[AgentFact, ...]
    """The capable agents, the first `MAX_LISTED` by registration."""
    former_agent: AgentFact | None
    """The deregistered agent that had its labels last, when no registered one has them."""
    place: Place | None
    """None while it is not due."""


@dataclass(frozen=True)
class Situation:
    """What the read models hold about one job and, when it is queued, its pool."""

    job: JobView
    pool: PoolView | None = None
    agents: tuple[AgentFact, ...] = ()
    """The pool's agents, deregistered ones included, by registration."""
    line: tuple[Ticket, ...] = ()
    """The pool's queued jobs in ticket order."""
    retry_at: datetime | None = None
    holder: str | None = None
    """The name of the agent holding the job, when the board knows it."""
    dead_reason: str = ""


def situation(
    job_id: str, jobs: JobBoard, queue: QueueBoard, agents: AgentBoard, pools: PoolBoard
) -> Situation | None:
    """The job's situation as the boards hold it; None for a job they do not know."""
    job = jobs.get(job_id)
    if job is None:
        return None
    if job.status is not JobStatus.QUEUED or job.queue is None:
        return _elsewhere(job, queue, agents)
    pool = job.queue.pool
    return Situation(
        job,
        pool=pools.get(pool),
        agents=tuple(_fact(a, agents) for a in agents.select(pool, None, None)),
        line=tuple(queue.line(pool)),
        retry_at=queue.retry_at.get(job_id),
    )


def _elsewhere(job: JobView, queue: QueueBoard, agents: AgentBoard) -> Situation:
    """A job out of the queue: who holds it, or why it was dead-lettered."""
    holder = agents.get(job.agent_id) if job.agent_id else None
    dead = queue.dead.get(job.job_id)
    return Situation(
        job,
        holder=holder.name if holder is not None else job.agent_id,
        dead_reason=dead.reason if dead is not None else "",
    )


def _fact(view: AgentView, board: AgentBoard) -> AgentFact:
    return AgentFact(
        agent_id=view.agent_id,
        name=view.name,
        labels=view.labels,
        status=view.status,
        reason=view.health_reason if view.status is view.health else "",
        running=len(board.jobs_of(view.agent_id)[0]),
        slots=view.slots,
        changed_at=view.changed_at,
    )


def holding(facts: WaitFacts) -> tuple[WaitReason, ...]:
    """Every cause that holds, in `PRECEDENCE`."""
    holds = {
        R.POOL_PAUSED: facts.pool_paused,
        R.SCHEDULED: facts.run_at is not None,
        R.BACKING_OFF: facts.retry_at is not None,
        R.NO_CAPABLE_AGENT: facts.capable_agents == 0,
        R.AGENTS_UNAVAILABLE: facts.capable_agents > 0 and facts.available_agents == 0,
        R.AGENTS_BUSY: facts.available_agents > 0 and facts.free_agents == 0,
    }
    return tuple(reason for reason in PRECEDENCE if holds[reason])


def gather(state: Situation, spec: QueueSpec, now: datetime) -> WaitFacts:
    registered = [a for a in state.agents if a.status is not AgentStatus.TERMINATED]
    capable = [a for a in registered if eligible(spec.labels, frozenset(a.labels))]
    available = [a for a in capable if a.status in TAKES_WORK]
    run_at, retry_at = _ahead(spec.run_at, now), _ahead(state.retry_at, now)
    due = run_at is None and retry_at is None
    return WaitFacts(
        pool=spec.pool,
        priority=spec.priority,
        labels=tuple(sorted(spec.labels)),
        attempts=state.job.attempts,
        queued_at=state.job.queued_at,
        pool_paused=state.pool is not None and state.pool.paused,
        pause_reason=state.pool.pause_reason if state.pool is not None else "",
        run_at=run_at,
        retry_at=retry_at,
        agents_in_pool=len(registered),
        capable_agents=len(capable),
        available_agents=len(available),
        free_agents=sum(1 for a in available if a.running < a.slots),
        agents=tuple(capable[:MAX_LISTED]),
        former_agent=None if capable else _former(state, spec),
        place=place(state.line, state.job.job_id, now) if due else None,
    )


def place(line: tuple[Ticket, ...], job_id: str, now: datetime) -> Place | None:
    """Jobs not yet due (a `run_at` or backoff ahead) are left out: the queue hands out none of
    them before their time, so they hold no place ahead of anyone."""
    due = [t for t in line if _ahead(t.not_before, now) is None]
    mine = next((t for t in due if t.job_id == job_id), None)
    if mine is None:
        return None
    higher = sum(1 for t in due if RANK[t.priority] < RANK[mine.priority])
    older = [t.job_id for t in due if t.priority is mine.priority].index(job_id)
    return Place(position=higher + older + 1, higher=higher, older=older, due=len(due))


def _ahead(when: datetime | None, now: datetime) -> datetime | None:
    return when if when is not None and when > now else None


def _former(state: Situation, spec: QueueSpec) -> AgentFact | None:
    gone = [
        a
        for a in state.agents
        if a.status is AgentStatus.TERMINATED and eligible(spec.labels, frozenset(a.labels))
    ]
    return max(gone, key=lambda a: a.changed_at, default=None)
