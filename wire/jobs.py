"""Dashboard jobs: reported from outside the queue."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from domain.commands.jobs import CreateJob, ReportJobEnd, ReportJobStart
from domain.job_status import FINISHED, JobStatus
from domain.values import ExitCode, Metadata, Name, Text, Url
from wire.common import Body, GitFields


class JobCreate(GitFields):
    job_type: Name
    metadata: Metadata = {}

    def as_command(self) -> CreateJob:
        return CreateJob(self.job_type, self.git(), self.metadata)


class JobAccepted(BaseModel):
    job_id: UUID
    status: JobStatus
    seq: int


class JobStart(Body):
    agent_id: Name | None = None

    def as_command(self, job_id: UUID) -> ReportJobStart:
        return ReportJobStart(job_id, self.agent_id)


def _finished(value: JobStatus) -> JobStatus:
    if value not in FINISHED:
        raise ValueError(f"must be one of {', '.join(sorted(FINISHED))}")
    return value


FinalStatus = Annotated[
    JobStatus,
    AfterValidator(_finished),
    WithJsonSchema({"type": "string", "enum": sorted(FINISHED)}),
]


class JobComplete(Body):
    status: FinalStatus
    exit_code: ExitCode | None = None
    summary: Text = ""
    log_url: Url | None = None
    artifact_urls: Annotated[tuple[Url, ...], Field(max_length=100)] = ()

    def as_command(self, job_id: UUID) -> ReportJobEnd:
        return ReportJobEnd(
            job_id, self.status, self.exit_code, self.summary, self.log_url, self.artifact_urls
        )
