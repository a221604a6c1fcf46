"""What an agent reports of its attempt: that it ran to the end, or that it failed."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from domain.job_status import JobStatus
from domain.queue import FailureClass
from domain.values import ExitCode, Text, Url

REPORTABLE = frozenset({JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.ERROR})
"""What an agent may report of its own attempt; cancelling is an operator's act."""


def _reportable(value: JobStatus | None) -> JobStatus | None:
    if value is not None and value not in REPORTABLE:
        raise ValueError(f"must be one of {', '.join(sorted(REPORTABLE))}")
    return value


class CompletionReport(BaseModel):
    """An agent's report that its attempt ran to the end."""

    model_config = ConfigDict(extra="forbid")

    exit_code: ExitCode
    status: Annotated[
        JobStatus | None,
        AfterValidator(_reportable),
        WithJsonSchema({"anyOf": [{"enum": sorted(REPORTABLE)}, {"type": "null"}]}),
    ] = Field(default=None, description="Defaults to success for exit code 0, else failed.")
    summary: Text = ""
    log_url: Url | None = None
    artifact_urls: Annotated[tuple[Url, ...], Field(max_length=100)] = ()

    def outcome(self) -> JobStatus:
        return self.status or (JobStatus.SUCCESS if self.exit_code == 0 else JobStatus.FAILED)


class FailureReport(BaseModel):
    """An agent's report that its attempt failed, and whether another may succeed."""

    model_config = ConfigDict(extra="forbid")

    error: Annotated[str, Field(min_length=1, max_length=10_000)]
    failure_class: FailureClass = FailureClass.SCRIPT
    retryable: bool = True
    exit_code: ExitCode | None = None
