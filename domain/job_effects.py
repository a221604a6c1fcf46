"""What each of a job's events does to it, for the read models that follow jobs: the status
it leaves the job in, and whether it puts the job in the queue."""

from __future__ import annotations

from typing import cast, overload

from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import QueueSpec

Entering = Job.Created | Job.Queued | Job.Requeued
_ENTERING = frozenset(Entering.__args__)
"""By exact class, as the read models dispatch (projections.job_rows): every replayed job event
asks, and each failed `isinstance` on a pydantic class costs about 80 ns."""


def entered_queue(event: object) -> QueueSpec | None:
    """The queue spec of an event that puts a job into the queue, else None."""
    if type(event) in _ENTERING:
        return cast(Entering, event).spec
    return None


_MOVES_TO: dict[type, JobStatus] = {
    Job.Queued: JobStatus.QUEUED,
    Job.Requeued: JobStatus.QUEUED,
    Job.Claimed: JobStatus.CLAIMED,
    Job.Started: JobStatus.RUNNING,
    Job.Failed: JobStatus.QUEUED,
    Job.AttemptLost: JobStatus.QUEUED,
    Job.Released: JobStatus.QUEUED,
    Job.DeadLettered: JobStatus.DEAD_LETTERED,
}


JobEvent = (
    Job.Created
    | Job.Queued
    | Job.Requeued
    | Job.Claimed
    | Job.Started
    | Job.Completed
    | Job.Failed
    | Job.AttemptLost
    | Job.Released
    | Job.DeadLettered
)


@overload
def status_after(event: JobEvent) -> JobStatus: ...
@overload
def status_after(event: object) -> JobStatus | None: ...
def status_after(event: object) -> JobStatus | None:
    """The status one of a job's events leaves it in; None for an event that is not a job's.
    The one mapping every read model takes a job's status from (the aggregate's handlers set
    the same: tests/unit/test_job_status_after.py holds them together). A failure or a lost
    attempt puts the job back in the queue even when its budget is spent: the DeadLettered
    that ends it follows in the same command."""
    cls = type(event)
    if cls is Job.Completed:
        return cast(Job.Completed, event).status
    moved = _MOVES_TO.get(cls)
    if moved is None and cls is Job.Created:
        return JobStatus.PENDING if cast(Job.Created, event).spec is None else JobStatus.QUEUED
    return moved
