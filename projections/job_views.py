"""A job as readers get it (validated, frozen) and the filter a job list takes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.job_status import JobStatus
from domain.queue import QueueSpec
from domain.values import GitContext
from projections.job_attempts import AttemptView

if TYPE_CHECKING:
    from projections.job_rows import JobRow


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: JobStatus
    at: datetime
    seq: int
    actor: str
    event: str
    agent_id: str | None = None
    reason: str = ""


class JobView(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    status: JobStatus
    job_type: str
    git: GitContext
    metadata: dict[str, str]
    agent_id: str | None = None
    created_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    """The last attempt's start."""
    finished_at: datetime | None = None
    duration_s: float | None = None
    """The last attempt's, from its start (or its claim) to its end."""
    total_duration_s: float | None = None
    """From queueing (or creation) to the end, every attempt and wait between them included."""
    exit_code: int | None = None
    summary: str = ""
    log_url: str | None = None
    artifact_urls: tuple[str, ...] = ()
    queue: QueueSpec | None = None
    attempts: int = 0
    """Attempts counted so far (a released one does not count)."""
    attempt_history: tuple[AttemptView, ...] = ()
    history: tuple[StatusChange, ...] = ()
    last_seq: int


class JobFilter(BaseModel):
    status: JobStatus | None = None
    job_type: str | None = Field(None, max_length=200)
    pool: str | None = Field(None, max_length=200)
    """Jobs queued in this pool (a job reported to the dashboard is in none)."""
    repo: str | None = None
    ref: str | None = None
    agent_id: str | None = None
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None

    def keep(self, job: JobRow | JobView) -> bool:
        return (
            (self.status is None or job.status is self.status)
            and (self.job_type is None or job.job_type == self.job_type)
            and (self.pool is None or (job.queue is not None and job.queue.pool == self.pool))
            and (self.repo is None or job.git.repo == self.repo)
            and (self.ref is None or job.git.ref == self.ref)
            and (self.agent_id is None or job.agent_id == self.agent_id)
            and (self.created_from is None or job.created_at >= self.created_from)
            and (self.created_to is None or job.created_at < self.created_to)
        )
