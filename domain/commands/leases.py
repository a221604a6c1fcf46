"""An agent's work: claim a job, then act on the lease the claim gave it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar
from uuid import UUID

from domain.commands.base import Command
from domain.commands.results import ClaimGrant, Committed, LeaseState
from domain.job import Job
from domain.job_reports import CompletionReport, FailureReport

R = TypeVar("R")


@dataclass(frozen=True)
class ClaimJob(Command[ClaimGrant | None]):
    """Not idempotent: each claim asks for new work; None when none came within `wait_s`."""

    ACTION = "job.claim"
    agent_id: str
    pool: str
    labels: frozenset[str]
    wait_s: float


@dataclass(frozen=True)
class ClaimJobs(Command[list[ClaimGrant]]):
    """Up to `max_jobs` jobs for an agent with that many free slots: waits up to `wait_s` for
    the first, and takes more only if they are there at once. Not idempotent, as `ClaimJob`."""

    ACTION = "job.claim"
    agent_id: str
    pool: str
    labels: frozenset[str]
    wait_s: float
    max_jobs: int


@dataclass(frozen=True)
class OnLease(Command[R]):
    """A call on a claimed job, which only the agent holding the claim may make."""

    job_id: UUID
    claim_token: str


@dataclass(frozen=True)
class StartJob(OnLease[Committed[Job]]):
    ACTION = "job.start"


@dataclass(frozen=True)
class RenewLease(OnLease[LeaseState]):
    ACTION = "job.heartbeat"


@dataclass(frozen=True)
class CompleteJob(OnLease[Committed[Job]]):
    ACTION = "job.complete"
    report: CompletionReport


@dataclass(frozen=True)
class FailJob(OnLease[Committed[Job]]):
    ACTION = "job.fail"
    report: FailureReport


@dataclass(frozen=True)
class ReleaseJob(OnLease[Committed[Job]]):
    ACTION = "job.release"


class Output(NamedTuple):
    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True)
class AppendLogs(OnLease[list[int]]):
    """Answers the sequences the chunks were stored at."""

    ACTION = "job.logs"
    chunks: tuple[Output, ...]
    offset: int | None
