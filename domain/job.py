"""The Job aggregate and its status machine. Queueing, claiming and leasing are its events too,
so the dashboard, the audit trail and the queue always agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.job_status import FINISHED, LEASED, TRANSITIONS, JobStatus
from domain.model import Aggregate
from domain.queue import FailureClass, QueueSpec
from domain.values import GitContext, Text, Url

S = JobStatus


class _WithRetryRule:
    """v2 of the events that carry a queue spec: the spec may hold a retry rule. A v1 spec had
    none and v2's defaults to none, so a v1 payload reads as it is."""

    class_version: ClassVar[int] = 2

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        return data


def _queue_token(spec: QueueSpec | None) -> str:
    assert spec is not None
    return f"queued.{spec.pool}.{spec.priority.value}"


class Job(Aggregate):
    KIND = "job"
    id: UUID  # lets a command choose the id, so a retried create lands on the same aggregate

    class Created(_WithRetryRule, Aggregate.Created):
        job_type: str
        git: GitContext
        metadata: dict[str, str]
        spec: QueueSpec | None = None
        """Set when the job is created straight into the queue: one event, no atomic batch."""

        def subject_token(self) -> str:
            return "created" if self.spec is None else _queue_token(self.spec)

    class Queued(_WithRetryRule, Aggregate.Event):
        spec: QueueSpec

        def subject_token(self) -> str:
            """QUEUE sources `ev.job.*.queued.*.*`: this subject is the ticket in the queue."""
            return _queue_token(self.spec)

    class Requeued(_WithRetryRule, Aggregate.Event):
        spec: QueueSpec
        reason: str

        def subject_token(self) -> str:
            return _queue_token(self.spec)

    class Claimed(Aggregate.Event):
        agent_id: str
        attempt: int
        ack_subject: str

    class Started(Aggregate.Event):
        agent_id: str | None

    class Completed(Aggregate.Event):
        status: JobStatus
        exit_code: int | None
        summary: str
        log_url: str | None
        artifact_urls: tuple[str, ...]

    class Failed(Aggregate.Event):
        attempt: int
        agent_id: str | None
        error: str
        failure_class: FailureClass
        retryable: bool
        exit_code: int | None
        retry_at: datetime | None

    class AttemptLost(Aggregate.Event):
        attempt: int
        agent_id: str | None
        reason: str
        retry_at: datetime | None

    class Released(Aggregate.Event):
        attempt: int
        agent_id: str | None

    class DeadLettered(Aggregate.Event):
        reason: str
        attempts: int

    @event(Created)
    def __init__(
        self, job_type: str, git: GitContext, metadata: dict[str, str], spec: QueueSpec | None
    ) -> None:
        self.job_type = job_type
        self.git = git
        self.metadata = metadata
        self.status = JobStatus.PENDING if spec is None else JobStatus.QUEUED
        self.spec: QueueSpec | None = spec
        self.agent_id: str | None = None
        self.attempts = 0
        self.ack_subject: str | None = None
        self.not_before: datetime | None = None if spec is None else spec.run_at

    @classmethod
    def create(
        cls,
        job_id: UUID,
        job_type: str,
        git: GitContext,
        metadata: dict[str, str],
        spec: QueueSpec | None = None,
    ) -> Job:
        """A pending job, or with `spec` one that enters the queue as it is created."""
        # eventsourcing takes `id` through its metaclass, which mypy cannot see
        return cls(  # type: ignore[call-arg]
            id=job_id, job_type=job_type, git=git, metadata=metadata, spec=spec
        )

    @property
    def queue_spec(self) -> QueueSpec:
        if self.spec is None:
            self._refuse("use the queue")
        return self.spec

    def due(self, now: datetime) -> bool:
        return self.not_before is None or self.not_before <= now

    def queue(self, spec: QueueSpec) -> None:
        """Only a pending job enters the queue; one that was queued before comes back by retry."""
        if self.status is not S.PENDING:
            self._refuse("queue")
        self._queued(spec=spec)

    def claim(self, agent_id: str, ack_subject: str) -> None:
        self._require(S.CLAIMED, "claim")
        self._claimed(agent_id=agent_id, attempt=self.attempts + 1, ack_subject=ack_subject)

    def start(self, agent_id: str | None) -> None:
        self._require(S.RUNNING, "start")
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
            self._refuse(f"complete as {status}")
        self._require(status, f"complete as {status}")
        self._completed(
            status=status,
            exit_code=exit_code,
            summary=summary,
            log_url=log_url,
            artifact_urls=artifact_urls,
        )

    def cancel(self, reason: str) -> None:
        self.complete(JobStatus.CANCELLED, summary=reason)

    def fail(
        self,
        error: str,
        failure_class: FailureClass,
        retryable: bool,
        exit_code: int | None,
        retry_at: datetime,
    ) -> None:
        """An attempt failed; retry after `retry_at` while the budget lasts. When it is spent, a
        failure the job's retry rule covers ends the job `failed`, as a CI run would (the script
        failed, nothing is wrong with the queue); any other failure is dead-lettered."""
        self._require_leased("fail")
        retry = retryable and self._budget_left(exit_code)
        rule = self.queue_spec.retry
        if not retry and rule is not None and rule.covers(exit_code):
            self.complete(S.FAILED, exit_code, summary=error)
            return
        self._failed(
            attempt=self.attempts,
            agent_id=self.agent_id,
            error=error,
            failure_class=failure_class,
            retryable=retryable,
            exit_code=exit_code,
            retry_at=retry_at if retry else None,
        )
        if not retry:
            why = "failure is not retryable" if not retryable else "attempt budget exhausted"
            self._dead_lettered(reason=f"{why}: {error}", attempts=self.attempts)

    def lose_attempt(self, reason: str, retry_at: datetime) -> None:
        """The lease ran out or the agent vanished: the attempt counts, the job goes back."""
        self._require_leased("expire the lease of")
        retry = self._budget_left()
        self._attempt_lost(
            attempt=self.attempts,
            agent_id=self.agent_id,
            reason=reason,
            retry_at=retry_at if retry else None,
        )
        if not retry:
            self._dead_lettered(
                reason=f"attempt budget exhausted: {reason}", attempts=self.attempts
            )

    def release(self) -> None:
        """The agent gives the job back unrun; the attempt does not count."""
        self._require_leased("release")
        self._released(attempt=self.attempts, agent_id=self.agent_id)

    def requeue(self, reason: str) -> None:
        """A dead letter gets a fresh attempt budget."""
        self._require(S.QUEUED, "retry")
        if self.status is not S.DEAD_LETTERED:
            self._refuse("retry")
        self._requeued(spec=self.queue_spec, reason=reason)

    def require_outside_queue(self, action: str) -> None:
        """A job the queue hands out changes only through its lease (or a cancel): a report from
        elsewhere would overwrite the agent that holds it."""
        if self.spec is not None:
            self._refuse(f"{action} outside its lease")

    def require_lease(self, agent_id: str, attempt: int, ticket: str) -> None:
        """Fencing: only the current claim may act on a leased job. The ticket (the queue
        delivery it was claimed from) tells apart two claims of one attempt number, which a
        release makes possible."""
        held = (self.agent_id, self.attempts, self.ack_subject)
        if self.status not in LEASED or held != (agent_id, attempt, ticket):
            self._refuse(f"act on attempt {attempt} by {agent_id} of")

    def _budget_left(self, exit_code: int | None = None) -> bool:
        return self.attempts < self.queue_spec.attempt_limit(exit_code)

    def _require_leased(self, action: str) -> None:
        if self.status not in LEASED:
            self._refuse(action)

    def _require(self, target: JobStatus, action: str) -> None:
        if target not in TRANSITIONS[self.status]:
            self._refuse(action)

    @event(Queued)
    def _queued(self, spec: QueueSpec) -> None:
        self.spec = spec
        self.status = JobStatus.QUEUED
        self.not_before = spec.run_at

    @event(Requeued)
    def _requeued(self, spec: QueueSpec, reason: str) -> None:
        del spec, reason
        self.status = JobStatus.QUEUED
        self.attempts = 0
        self.not_before = None

    @event(Claimed)
    def _claimed(self, agent_id: str, attempt: int, ack_subject: str) -> None:
        self.status = JobStatus.CLAIMED
        self.agent_id = agent_id
        self.attempts = attempt
        self.ack_subject = ack_subject

    @event(Started)
    def _started(self, agent_id: str | None) -> None:
        self.status = JobStatus.RUNNING
        self.agent_id = agent_id or self.agent_id

    @event(Completed)
    def _completed(
        self,
        status: JobStatus,
        exit_code: int | None,
        summary: str,
        log_url: str | None,
        artifact_urls: tuple[str, ...],
    ) -> None:
        del exit_code, summary, log_url, artifact_urls  # read models keep them
        self.status = status

    @event(Failed)
    def _failed(
        self,
        attempt: int,
        agent_id: str | None,
        error: str,
        failure_class: FailureClass,
        retryable: bool,
        exit_code: int | None,
        retry_at: datetime | None,
    ) -> None:
        del attempt, agent_id, error, failure_class, retryable, exit_code
        self._back_in_queue(retry_at)

    @event(AttemptLost)
    def _attempt_lost(
        self, attempt: int, agent_id: str | None, reason: str, retry_at: datetime | None
    ) -> None:
        del attempt, agent_id, reason
        self._back_in_queue(retry_at)

    @event(Released)
    def _released(self, attempt: int, agent_id: str | None) -> None:
        del agent_id
        self.attempts = attempt - 1
        self._back_in_queue(None)

    @event(DeadLettered)
    def _dead_lettered(self, reason: str, attempts: int) -> None:
        del reason, attempts
        self.status = JobStatus.DEAD_LETTERED

    def _back_in_queue(self, retry_at: datetime | None) -> None:
        self.status = JobStatus.QUEUED
        self.not_before = retry_at
