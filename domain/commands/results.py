"""What handlers answer with: the aggregate a command left, and the few answers that are more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from domain.agent import Agent, AgentStatus
from domain.job import Job
from domain.job_status import JobStatus
from domain.model import Aggregate

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Committed(Generic[A]):
    aggregate: A
    seq: int
    """The stream sequence of the command's last event: a read with min_seq=seq sees it."""
    replayed: bool = False


@dataclass(frozen=True)
class ClaimGrant:
    job: Job
    seq: int
    token: str
    lease_expires_at: datetime
    heartbeat_every_s: float


@dataclass(frozen=True)
class LeaseState:
    status: JobStatus
    cancelled: bool
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class Registration:
    agent: Agent
    seq: int
    token: str


@dataclass(frozen=True)
class Instruction:
    action: str
    job_id: str | None = None


@dataclass(frozen=True)
class Beaten:
    """A heartbeat's answer, from the read models: the agent's status, what it should do, and a
    token with a full lifetime."""

    status: AgentStatus
    instructions: list[Instruction]
    token: str
    interval_s: float
