"""Jobs: reported from outside the queue, enqueued, and handled by operators."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.commands.base import Command
from domain.commands.results import Committed
from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import QueueSpec
from domain.values import GitContext


@dataclass(frozen=True)
class CreateJob(Command[Committed[Job]]):
    """A job run outside the queue, reported to the dashboard."""

    ACTION = "job.create"
    job_type: str
    git: GitContext
    metadata: dict[str, str]


@dataclass(frozen=True)
class ReportJobStart(Command[Committed[Job]]):
    ACTION = "job.start"
    job_id: UUID
    agent_id: str | None


@dataclass(frozen=True)
class ReportJobEnd(Command[Committed[Job]]):
    ACTION = "job.complete"
    job_id: UUID
    status: JobStatus
    exit_code: int | None
    summary: str
    log_url: str | None
    artifact_urls: tuple[str, ...]


@dataclass(frozen=True)
class EnqueueJob(Command[Committed[Job]]):
    """A new job, created straight into the queue."""

    ACTION = "job.enqueue"
    job_type: str
    git: GitContext
    metadata: dict[str, str]
    spec: QueueSpec


@dataclass(frozen=True)
class QueueJob(Command[Committed[Job]]):
    """A pending job, put into the queue."""

    ACTION = "job.queue"
    job_id: UUID
    spec: QueueSpec


@dataclass(frozen=True)
class CancelJob(Command[Committed[Job]]):
    ACTION = "job.cancel"
    job_id: UUID
    reason: str


@dataclass(frozen=True)
class RetryDeadLetter(Command[Committed[Job]]):
    ACTION = "job.retry"
    job_id: UUID
    reason: str
