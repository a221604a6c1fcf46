"""Many jobs in one request (`POST /api/queue/jobs:batch` and `jetdeck.cmd.enqueue_batch`):
every job validated before any runs, then each run and answered on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from domain.commands.batch import BatchItem, EnqueueBatch, ItemOutcome
from domain.commands.results import Committed
from domain.job import Job
from domain.job_status import JobStatus
from wire.common import Body, request_hash
from wire.problems import status_and_code
from wire.queue import Enqueued, EnqueueRequest

MAX_BATCH = 1000
"""Jobs in one batch: 1,000 typical jobs are about 400 kB, within the API's body limit."""


class BatchEnqueueRequest(Body):
    jobs: Annotated[
        list[EnqueueRequest],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description="Each as the body of `POST /api/queue/jobs`. Job n runs under the "
            "batch's Idempotency-Key followed by `#n`: resend the same batch to retry it.",
        ),
    ]

    def as_command(self, path: str) -> EnqueueBatch:
        """Each job carries the hash of its own body, so a retry is checked job by job."""
        return EnqueueBatch(
            tuple(
                BatchItem(job.as_command(), request_hash(path, _canonical(job)))
                for job in self.jobs
            )
        )

    def run_at_errors(self, horizon_s: int) -> list[dict[str, Any]]:
        """The jobs whose `run_at` lies beyond the horizon, as validation errors."""
        return [
            {"type": "value_error", "loc": ("body", "jobs", n, "run_at"), "msg": msg}
            for n, job in enumerate(self.jobs)
            if (msg := late_run_at(job, horizon_s)) is not None
        ]


def _canonical(job: EnqueueRequest) -> bytes:
    return job.model_dump_json(exclude_unset=True).encode()


def late_run_at(job: EnqueueRequest, horizon_s: int) -> str | None:
    """Why `run_at` is refused (a setting, so checked at the edge, not in the schema): a far-off
    one is almost surely a mistake, and past 2262 nats-server cannot even hold the ticket's
    delay (docs/architecture.md, Queue). None when it is fine."""
    latest = datetime.now(UTC) + timedelta(seconds=horizon_s)
    if job.run_at is None or job.run_at <= latest:
        return None
    return f"run_at may be at most {horizon_s} s ahead, until {latest.isoformat()}"


def enqueued(result: Committed[Job]) -> Enqueued:
    job = result.aggregate
    return Enqueued(job_id=job.id, status=job.status, seq=result.seq, existing=result.replayed)


class BatchJobAnswer(BaseModel):
    """One job of the batch: queued (`status` 201), or refused with a problem's status, `error`
    code and `detail`."""

    status: int = Field(description="201 when queued (or a retry found it), else the problem's.")
    job_id: UUID | None = None
    job_status: JobStatus | None = None
    seq: int | None = None
    existing: bool | None = Field(
        default=None, description="True when a retry or a unique key found an earlier job."
    )
    error: str | None = Field(default=None, description="The problem's stable code.")
    detail: str | None = None

    @classmethod
    def of(cls, outcome: ItemOutcome) -> BatchJobAnswer:
        if isinstance(outcome, Committed):
            done = enqueued(outcome)
            return cls(
                status=201,
                job_id=done.job_id,
                job_status=done.status,
                seq=done.seq,
                existing=done.existing,
            )
        status, code = status_and_code(outcome)
        return cls(status=status, error=code, detail=str(outcome))


class BatchEnqueued(BaseModel):
    jobs: list[BatchJobAnswer] = Field(description="One answer per job, in the request's order.")
    queued: int = Field(description="How many jobs are queued (201).")
    seq: int = Field(
        description="The last sequence among the queued jobs' events (pass as `min_seq`); 0 "
        "when none was queued."
    )

    @classmethod
    def of(cls, outcomes: tuple[ItemOutcome, ...]) -> BatchEnqueued:
        answers = [BatchJobAnswer.of(outcome) for outcome in outcomes]
        seqs = [a.seq for a in answers if a.seq is not None]
        return cls(jobs=answers, queued=len(seqs), seq=max(seqs, default=0))
