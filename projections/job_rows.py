"""One job as the board keeps it, or as its detail shows it with its status history and its
attempts, and how each event changes them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from domain.job import Job
from domain.job_effects import status_after
from domain.job_status import JobStatus
from domain.model import DomainEvent
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.job_attempts import Attempt, AttemptOutcome, current
from projections.job_views import JobView, StatusChange


class Change(NamedTuple):
    """A StatusChange as the board keeps it; made once per event, so kept light."""

    status: JobStatus
    at: datetime
    seq: int
    actor: str
    event: str
    agent_id: str | None
    reason: str


@dataclass(slots=True)
class JobRow:
    """A job as the board keeps it: changed in place, one event at a time.

    Replays apply every event of the log here, so the board keeps plain slotted records and
    builds the validated `JobView` only when a reader asks (measured: copying a pydantic model
    per event cost more than decoding the event). The two declare the same fields; a unit test
    keeps them in step.
    """

    job_id: str
    status: JobStatus
    job_type: str
    git: GitContext
    metadata: dict[str, str]
    created_at: datetime
    last_seq: int
    agent_id: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    total_duration_s: float | None = None
    exit_code: int | None = None
    summary: str = ""
    log_url: str | None = None
    artifact_urls: tuple[str, ...] = ()
    queue: QueueSpec | None = None
    attempts: int = 0
    attempt_history: list[Attempt] = field(default_factory=list)
    history: list[Change] | None = None

    @property
    def detailed(self) -> bool:
        """A job's detail keeps its status changes and every attempt. The board's rows keep only
        the job as it stands (and its open attempt): the rest is most of a picture of the board,
        and a job's own events give it back when asked (`detail`)."""
        return self.history is not None

    def move(self, recorded: RecordedEvent, status: JobStatus, reason: str = "") -> None:
        self.status = status
        self.last_seq = recorded.seq
        if self.history is not None:
            self.history.append(
                Change(
                    status,
                    recorded.at,
                    recorded.seq,
                    recorded.cause.actor,
                    recorded.type,
                    self.agent_id,
                    reason,
                )
            )

    def end_attempt(
        self,
        outcome: AttemptOutcome,
        at: datetime,
        exit_code: int | None = None,
        reason: str = "",
    ) -> None:
        attempt = current(self.attempt_history)
        if attempt is not None:
            attempt.close(outcome, at, exit_code, reason)
            self.duration_s = attempt.duration_s
            if not self.detailed:
                self.attempt_history.clear()

    def end(self, at: datetime) -> None:
        """The job ended (finished, or dead-lettered until someone retries it)."""
        self.total_duration_s = (at - (self.queued_at or self.created_at)).total_seconds()

    def view(self, detail: bool = True) -> JobView:
        """Without `detail`, as a list shows it: a detailed row's history and attempts left out."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        detailed = detail and self.detailed
        history = [StatusChange(**change._asdict()) for change in self.history or ()]
        attempts = [attempt.view() for attempt in self.attempt_history] if detailed else []
        return JobView(
            **(fields | {"history": history if detailed else [], "attempt_history": attempts})
        )


def detail(events: Iterable[RecordedEvent]) -> JobRow | None:
    """A job with its status history and every attempt, folded from its own events."""
    row: JobRow | None = None
    for recorded in events:
        if row is not None:
            evolve(row, recorded)
        elif isinstance(recorded.event, Job.Created):
            row = created(recorded, recorded.event, detailed=True)
    return row


def created(recorded: RecordedEvent, e: Job.Created, detailed: bool = False) -> JobRow:
    status = status_after(e)
    row = JobRow(
        job_id=recorded.aggregate_id,
        status=status,
        job_type=e.job_type,
        git=e.git,
        metadata=e.metadata,
        created_at=e.timestamp,
        last_seq=recorded.seq,
        queued_at=None if e.spec is None else e.timestamp,
        queue=e.spec,
        history=[] if detailed else None,
    )
    row.move(recorded, status)
    return row


def evolve(row: JobRow, recorded: RecordedEvent) -> None:
    """Fold one event into a job's row; deterministic, so replays agree."""
    step = _STEPS.get(type(recorded.event))
    if step is not None:
        step(row, recorded, recorded.event)


def _queued(row: JobRow, recorded: RecordedEvent, e: Job.Queued) -> None:
    row.queue, row.queued_at = e.spec, e.timestamp
    row.move(recorded, status_after(e))


def _requeued(row: JobRow, recorded: RecordedEvent, e: Job.Requeued) -> None:
    row.attempts, row.total_duration_s = 0, None
    row.move(recorded, status_after(e), e.reason)


def _claimed(row: JobRow, recorded: RecordedEvent, e: Job.Claimed) -> None:
    row.agent_id, row.attempts = e.agent_id, e.attempt
    row.attempt_history.append(
        Attempt(e.attempt, e.agent_id, AttemptOutcome.CLAIMED, claimed_at=e.timestamp)
    )
    row.move(recorded, status_after(e))


def _started(row: JobRow, recorded: RecordedEvent, e: Job.Started) -> None:
    """A claimed attempt starts; a job reported through the dashboard has no claim, so its
    start opens the attempt."""
    row.agent_id, row.started_at = e.agent_id or row.agent_id, e.timestamp
    attempt = current(row.attempt_history)
    if attempt is None:
        row.attempts += 1
        attempt = Attempt(row.attempts, row.agent_id, AttemptOutcome.RUNNING)
        row.attempt_history.append(attempt)
    attempt.start(row.agent_id, e.timestamp)
    row.move(recorded, status_after(e))


def _completed(row: JobRow, recorded: RecordedEvent, e: Job.Completed) -> None:
    row.finished_at = e.timestamp
    row.exit_code, row.summary = e.exit_code, e.summary
    row.log_url, row.artifact_urls = e.log_url, e.artifact_urls
    reason = e.summary if e.status is not JobStatus.SUCCESS else ""
    row.end_attempt(_ENDS_ATTEMPT[e.status], e.timestamp, e.exit_code, reason)
    row.end(e.timestamp)
    row.move(recorded, status_after(e), e.summary if e.status is JobStatus.CANCELLED else "")


_ENDS_ATTEMPT = {
    status: AttemptOutcome(status.value)
    for status in JobStatus
    if status.value in {outcome.value for outcome in AttemptOutcome}
}
"""The outcome a job's end gives its attempt, looked up: making the enum from the status's value
costs half a microsecond, on every job's Completed."""


def _failed(row: JobRow, recorded: RecordedEvent, e: Job.Failed) -> None:
    row.exit_code = e.exit_code
    why = f"attempt {e.attempt} failed ({e.failure_class.value}): {e.error}"
    row.end_attempt(AttemptOutcome.FAILED, e.timestamp, e.exit_code, e.error)
    row.move(recorded, status_after(e), why)


def _lost(row: JobRow, recorded: RecordedEvent, e: Job.AttemptLost) -> None:
    row.end_attempt(AttemptOutcome.LOST, e.timestamp, reason=e.reason)
    why = f"attempt {e.attempt} lost by {e.agent_id}: {e.reason}"
    row.move(recorded, status_after(e), why)


def _released(row: JobRow, recorded: RecordedEvent, e: Job.Released) -> None:
    row.attempts = e.attempt - 1
    row.end_attempt(AttemptOutcome.RELEASED, e.timestamp)
    row.move(recorded, status_after(e), f"attempt {e.attempt} released by {e.agent_id}")


def _dead_lettered(row: JobRow, recorded: RecordedEvent, e: Job.DeadLettered) -> None:
    row.end(e.timestamp)
    row.move(recorded, status_after(e), e.reason)


_STEPS: dict[type[DomainEvent], Callable[[JobRow, RecordedEvent, Any], None]] = {
    Job.Queued: _queued,
    Job.Requeued: _requeued,
    Job.Claimed: _claimed,
    Job.Started: _started,
    Job.Completed: _completed,
    Job.Failed: _failed,
    Job.AttemptLost: _lost,
    Job.Released: _released,
    Job.DeadLettered: _dead_lettered,
}
"""How each event after the first changes a row, by its class: one lookup, where trying the
classes in turn (`match`) cost a failed `isinstance` (about 80 ns on a pydantic class) per
class tried, and every job's Completed came fifth."""
