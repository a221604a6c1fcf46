"""The Job aggregate and its status machine."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.errors import InvalidTransitionError
from domain.model import Aggregate
from domain.values import GitContext, Text, Url


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ERROR = "error"
    DEAD_LETTERED = "dead_lettered"


S = JobStatus
FINISHED = frozenset({S.SUCCESS, S.FAILED, S.TIMEOUT, S.CANCELLED, S.ERROR})
"""Outcomes a job's report may carry; each ends the job for good."""

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.RUNNING, S.CANCELLED}),
    S.QUEUED: frozenset({S.CLAIMED, S.CANCELLED, S.DEAD_LETTERED}),
    S.CLAIMED: frozenset({S.RUNNING, S.QUEUED, S.CANCELLED, S.DEAD_LETTERED, S.FAILED, S.ERROR}),
    S.RUNNING: FINISHED | {S.QUEUED, S.DEAD_LETTERED},
    S.DEAD_LETTERED: frozenset({S.QUEUED, S.CANCELLED}),
    **{status: frozenset() for status in FINISHED},
}
"""Every allowed move. A finished job never changes again; a dead letter may be queued again."""


class Job(Aggregate):
    KIND = "job"
    id: UUID  # lets a command choose the id, so a retried create lands on the same aggregate

    class Created(Aggregate.Created):
        job_type: str
        git: GitContext
        metadata: dict[str, str]

    class Started(Aggregate.Event):
        agent_id: str | None

    class Completed(Aggregate.Event):
        status: JobStatus
        exit_code: int | None
        summary: str
        log_url: str | None
        artifact_urls: tuple[str, ...]

    @event(Created)
    def __init__(self, job_type: str, git: GitContext, metadata: dict[str, str]) -> None:
        self.job_type = job_type
        self.git = git
        self.metadata = metadata
        self.status = JobStatus.PENDING
        self.agent_id: str | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.exit_code: int | None = None

    @classmethod
    def create(cls, job_id: UUID, job_type: str, git: GitContext, metadata: dict[str, str]) -> Job:
        # eventsourcing takes `id` through its metaclass, which mypy cannot see
        return cls(id=job_id, job_type=job_type, git=git, metadata=metadata)  # type: ignore[call-arg]

    def start(self, agent_id: str | None) -> None:
        self._require(JobStatus.RUNNING, "start")
        self._started(agent_id=agent_id)

    def complete(
        self,
        status: JobStatus,
        exit_code: int | None = None,
        summary: Text = "",
        log_url: Url | None = None,
        artifact_urls: tuple[Url, ...] = (),
    ) -> None:
        if status not in FINISHED:
            raise InvalidTransitionError(
                self.KIND, str(self.id), self.status, f"complete as {status}"
            )
        self._require(status, f"complete as {status}")
        self._completed(
            status=status,
            exit_code=exit_code,
            summary=summary,
            log_url=log_url,
            artifact_urls=artifact_urls,
        )

    def _require(self, target: JobStatus, action: str) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransitionError(self.KIND, str(self.id), self.status, action)

    @event(Started)
    def _started(self, agent_id: str | None) -> None:
        self.status = JobStatus.RUNNING
        self.agent_id = agent_id or self.agent_id
        self.started_at = self.modified_on

    @event(Completed)
    def _completed(
        self,
        status: JobStatus,
        exit_code: int | None,
        summary: str,
        log_url: str | None,
        artifact_urls: tuple[str, ...],
    ) -> None:
        del summary, log_url, artifact_urls  # read models keep them; decisions do not need them
        self.status = status
        self.exit_code = exit_code
        self.finished_at = self.modified_on
