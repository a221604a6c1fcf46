"""Job board: every job with its status history, filters, newest first, and running jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.job import Job, JobStatus
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.paging import ArrivalIndex


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
    finished_at: datetime | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    summary: str = ""
    log_url: str | None = None
    artifact_urls: tuple[str, ...] = ()
    queue: QueueSpec | None = None
    attempts: int = 0
    history: tuple[StatusChange, ...] = ()
    last_seq: int


class JobFilter(BaseModel):
    status: JobStatus | None = None
    repo: str | None = None
    ref: str | None = None
    agent_id: str | None = None
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None

    def keep(self, job: JobView) -> bool:
        return (
            (self.status is None or job.status is self.status)
            and (self.repo is None or job.git.repo == self.repo)
            and (self.ref is None or job.git.ref == self.ref)
            and (self.agent_id is None or job.agent_id == self.agent_id)
            and (self.created_from is None or job.created_at >= self.created_from)
            and (self.created_to is None or job.created_at < self.created_to)
        )


def _moved(view: JobView, recorded: RecordedEvent, status: JobStatus, **changes: Any) -> JobView:
    change = StatusChange(
        status=status,
        at=recorded.at,
        seq=recorded.seq,
        actor=recorded.cause.actor,
        event=recorded.type,
        agent_id=changes.get("agent_id", view.agent_id),
        reason=changes.pop("reason", ""),
    )
    return view.model_copy(
        update={"status": status, "history": (*view.history, change), "last_seq": recorded.seq}
        | changes
    )


def evolve(view: JobView | None, recorded: RecordedEvent) -> JobView | None:
    """One job's row after one event; pure, so replays agree."""
    match recorded.event:
        case Job.Created() as e:
            created = JobView(
                job_id=str(e.originator_id),
                status=JobStatus.PENDING,
                job_type=e.job_type,
                git=e.git,
                metadata=e.metadata,
                created_at=e.timestamp,
                last_seq=recorded.seq,
            )
            return _moved(created, recorded, JobStatus.PENDING)
        case _ if view is None:
            return None
        case Job.Queued() as e:
            return _moved(view, recorded, JobStatus.QUEUED, queue=e.spec, queued_at=e.timestamp)
        case Job.Requeued() as e:
            return _moved(view, recorded, JobStatus.QUEUED, reason=e.reason, attempts=0)
        case Job.Claimed() as e:
            return _moved(
                view, recorded, JobStatus.CLAIMED, agent_id=e.agent_id, attempts=e.attempt
            )
        case Job.Failed() as e:
            why = f"attempt {e.attempt} failed ({e.failure_class.value}): {e.error}"
            return _moved(view, recorded, JobStatus.QUEUED, reason=why, exit_code=e.exit_code)
        case Job.AttemptLost() as e:
            why = f"attempt {e.attempt} lost by {e.agent_id}: {e.reason}"
            return _moved(view, recorded, JobStatus.QUEUED, reason=why)
        case Job.Released() as e:
            why = f"attempt {e.attempt} released by {e.agent_id}"
            return _moved(view, recorded, JobStatus.QUEUED, reason=why, attempts=e.attempt - 1)
        case Job.DeadLettered() as e:
            return _moved(view, recorded, JobStatus.DEAD_LETTERED, reason=e.reason)
        case Job.Started() as e:
            return _moved(
                view,
                recorded,
                JobStatus.RUNNING,
                agent_id=e.agent_id or view.agent_id,
                started_at=e.timestamp,
            )
        case Job.Completed() as e:
            began = view.started_at
            return _moved(
                view,
                recorded,
                e.status,
                finished_at=e.timestamp,
                duration_s=(e.timestamp - began).total_seconds() if began else None,
                exit_code=e.exit_code,
                summary=e.summary,
                log_url=e.log_url,
                artifact_urls=e.artifact_urls,
                reason=e.summary if e.status is JobStatus.CANCELLED else "",
            )
    return view


class JobBoard:
    name: ClassVar[str] = "jobs"

    def __init__(self) -> None:
        self.jobs: dict[str, JobView] = {}
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        self.running: set[str] = set()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Job.KIND:
            return
        job_id = recorded.aggregate_id
        before = self.jobs.get(job_id)
        after = evolve(before, recorded)
        if after is None or after is before:
            return
        if before is None:
            self.arrivals.add(recorded.seq, job_id)
        self.jobs[job_id] = after
        if after.status is JobStatus.RUNNING:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)

    def get(self, job_id: str) -> JobView | None:
        return self.jobs.get(job_id)

    def page(
        self, flt: JobFilter, limit: int, before: int | None = None
    ) -> tuple[list[JobView], int | None]:
        ids, cursor = self.arrivals.page(lambda i: flt.keep(self.jobs[i]), limit, before)
        return [self.jobs[i] for i in ids], cursor

    def list_running(self) -> list[JobView]:
        return sorted((self.jobs[i] for i in self.running), key=lambda j: j.last_seq, reverse=True)

    def dump(self) -> Any:
        return {
            "arrivals": list(zip(self.arrivals.seqs, self.arrivals.rows, strict=True)),
            "jobs": [job.model_dump(mode="json") for job in self.jobs.values()],
        }

    def restore(self, data: Any) -> None:
        self.jobs.clear()
        self.running.clear()
        self.arrivals = ArrivalIndex()
        for seq, job_id in data["arrivals"]:
            self.arrivals.add(seq, job_id)
        for raw in data["jobs"]:
            job = JobView.model_validate(raw)
            self.jobs[job.job_id] = job
            if job.status is JobStatus.RUNNING:
                self.running.add(job.job_id)
