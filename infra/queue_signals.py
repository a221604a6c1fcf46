"""What the queue tells operators: a metric for each claim, ended attempt, lost lease and dead
letter, and a log line for the last two (trouble someone may have to look into)."""

from __future__ import annotations

import logging
from datetime import datetime

from domain.job import Job
from domain.recorded import RecordedEvent
from infra.metrics import CLAIM_TO_COMPLETE, CLAIM_WAIT, DEAD_LETTERS, LEASES_EXPIRED

log = logging.getLogger(__name__)


def due_since(job: Job) -> datetime:
    """When a queued job became claimable: its last event, or its run_at or retry time."""
    entered: datetime = job.modified_on
    return max(entered, job.not_before) if job.not_before is not None else entered


def claimed_at(history: list[RecordedEvent]) -> datetime | None:
    """The time of the last claim in a job's history."""
    for recorded in reversed(history):
        if isinstance(recorded.event, Job.Claimed):
            return recorded.at
    return None


def claimed(job: Job, since: datetime) -> None:
    """`job` as its claim left it; `since` from `due_since` before the claim."""
    spec = job.queue_spec
    wait = (job.modified_on - since).total_seconds()
    CLAIM_WAIT.labels(spec.pool, spec.priority).observe(max(wait, 0.0))


def attempt_ended(job: Job, since: datetime | None) -> None:
    """`job` as the agent's report that ended its attempt left it; `since` its claim."""
    if since is not None:
        held = (job.modified_on - since).total_seconds()
        CLAIM_TO_COMPLETE.labels(job.queue_spec.pool, job.status).observe(max(held, 0.0))


def lease_lost(job: Job, reason: str) -> None:
    """`job` as taking it back left it: queued again, or dead-lettered."""
    LEASES_EXPIRED.labels(reason).inc()
    log.warning(
        "job %s: lease of attempt %d by agent %s lost (%s)",
        job.id,
        job.attempts,
        job.agent_id,
        reason,
        extra={"job_id": str(job.id), "agent_id": job.agent_id, "reason": reason},
    )


def dead_lettered(job: Job) -> None:
    spec = job.queue_spec
    DEAD_LETTERS.labels(spec.pool, spec.priority).inc()
    log.warning(
        "job %s dead-lettered after %d attempts (pool %s)",
        job.id,
        job.attempts,
        spec.pool,
        extra={"job_id": str(job.id), "pool": spec.pool, "attempts": job.attempts},
    )
