"""The job queue: enqueue, claim, the lease holder's calls, operators' calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.commands.jobs import EnqueueJob, QueueJob
from domain.commands.leases import ClaimJob, ClaimJobs, CompleteJob, FailJob
from domain.commands.results import ClaimGrant
from domain.job_reports import CompletionReport, FailureReport
from domain.job_status import JobStatus
from domain.queue import Label, PoolName, QueueSpec, RetryRule
from domain.values import Metadata, Name, Text
from wire.common import Body, GitFields

MAX_JOBS_PER_CLAIM = 64
"""An agent's free slots asked for in one claim."""
NEW_JOB_FIELDS = frozenset(
    {"job_type", "git_repo", "git_ref", "git_commit_sha", "git_commit_message", "git_author"}
) | {"metadata"}


NEW_JOB_REQUIRED = ("job_type", "git_repo", "git_ref", "git_commit_sha")


def _one_of_two_shapes(schema: dict[str, Any]) -> None:
    """The validator's rule, said in the schema: a new job (its fields, no `job_id`) or a pending
    one by `job_id` alone (no new-job fields, no `unique_key`)."""
    given = [{"required": [name]} for name in sorted(NEW_JOB_FIELDS | {"unique_key"})]
    schema["oneOf"] = [
        {
            "required": list(NEW_JOB_REQUIRED),
            "properties": {name: {"type": "string"} for name in NEW_JOB_REQUIRED},
            "not": {"required": ["job_id"]},
        },
        {
            "required": ["job_id"],
            "properties": {"job_id": {"type": "string"}},
            "not": {"anyOf": given},
        },
    ]


class EnqueueRequest(QueueSpec):
    """A new job (the dashboard's job fields), or `job_id` of a pending one, plus queue fields."""

    model_config = ConfigDict(json_schema_extra=_one_of_two_shapes)

    job_id: UUID | None = None
    job_type: Name | None = None
    git_repo: Name | None = None
    git_ref: Name | None = None
    git_commit_sha: str | None = None
    git_commit_message: Text = ""
    git_author: Annotated[str, Field(max_length=320)] = ""
    metadata: Metadata = {}

    @model_validator(mode="after")
    def _new_job_or_pending_one(self) -> EnqueueRequest:
        if self.job_id is None:
            self.git_fields()
            if self.job_type is None:
                raise ValueError("job_type is required unless job_id names a pending job")
            return self
        given = self.model_fields_set & NEW_JOB_FIELDS
        if given:
            raise ValueError(f"job_id names an existing job; drop {', '.join(sorted(given))}")
        if self.unique_key is not None:
            raise ValueError("unique_key applies to new jobs only")
        return self

    def git_fields(self) -> GitFields:
        return GitFields.model_validate(
            {
                "git_repo": self.git_repo,
                "git_ref": self.git_ref,
                "git_commit_sha": self.git_commit_sha,
                "git_commit_message": self.git_commit_message,
                "git_author": self.git_author,
            }
        )

    def spec(self) -> QueueSpec:
        return QueueSpec.model_validate(self.model_dump(include=set(QueueSpec.model_fields)))

    def as_command(self) -> EnqueueJob | QueueJob:
        if self.job_id is not None:
            return QueueJob(self.job_id, self.spec())
        assert self.job_type is not None
        git = self.git_fields().git()
        return EnqueueJob(self.job_type, git, self.metadata, self.spec())


class Enqueued(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int
    existing: bool = Field(description="True when a retry or a unique key found an earlier job.")


class ClaimFields(Body):
    agent_id: Name
    pool: PoolName = "default"
    labels: Annotated[frozenset[Label], Field(max_length=64)] = frozenset()
    wait_s: Annotated[float, Field(ge=0, le=30)] = 5.0


class ClaimRequest(ClaimFields):
    def as_command(self) -> ClaimJob:
        return ClaimJob(self.agent_id, self.pool, self.labels, self.wait_s)


class ClaimsRequest(ClaimFields):
    max_jobs: Annotated[int, Field(ge=1, le=MAX_JOBS_PER_CLAIM)] = Field(
        default=1, description="Free slots: up to this many jobs, if that many are there at once."
    )

    def as_command(self) -> ClaimJobs:
        return ClaimJobs(self.agent_id, self.pool, self.labels, self.wait_s, self.max_jobs)


class ClaimedJob(BaseModel):
    job_id: UUID
    job_type: str
    command: str
    timeout_s: int
    attempt: int
    pool: str
    priority: str
    labels: list[str]
    git: dict[str, str]
    metadata: dict[str, str]
    retry: RetryRule | None = Field(
        default=None,
        description="Report an exit code this rule covers with `fail` (retryable), any other "
        "with `complete`.",
    )


class ClaimAnswer(BaseModel):
    job: ClaimedJob
    claim_token: str
    lease_expires_at: datetime
    heartbeat_every_s: float
    seq: int

    @classmethod
    def of(cls, grant: ClaimGrant) -> ClaimAnswer:
        job = grant.job
        spec = job.queue_spec
        return cls(
            job=ClaimedJob(
                job_id=job.id,
                job_type=job.job_type,
                command=spec.command,
                timeout_s=spec.timeout_s,
                attempt=job.attempts,
                pool=spec.pool,
                priority=spec.priority.value,
                labels=sorted(spec.labels),
                git=job.git.model_dump(),
                metadata=job.metadata,
                retry=spec.retry,
            ),
            claim_token=grant.token,
            lease_expires_at=grant.lease_expires_at,
            heartbeat_every_s=grant.heartbeat_every_s,
            seq=grant.seq,
        )


class ClaimsAnswer(BaseModel):
    claims: list[ClaimAnswer] = Field(description="Empty when no work came within wait_s.")

    @classmethod
    def of(cls, grants: list[ClaimGrant]) -> ClaimsAnswer:
        return cls(claims=[ClaimAnswer.of(grant) for grant in grants])


class LeaseCall(Body):
    claim_token: Annotated[str, Field(min_length=1, max_length=4096)]


class CompleteRequest(LeaseCall, CompletionReport):
    def as_command(self, job_id: UUID) -> CompleteJob:
        return CompleteJob(job_id, self.claim_token, self)


class FailRequest(LeaseCall, FailureReport):
    def as_command(self, job_id: UUID) -> FailJob:
        return FailJob(job_id, self.claim_token, self)


class ReasonBody(Body):
    reason: Text = ""


class LeaseHeartbeatAnswer(BaseModel):
    status: JobStatus
    cancelled: bool
    lease_expires_at: datetime | None


class JobAnswer(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int


class PoolState(BaseModel):
    pool: str
    paused: bool
    seq: int
