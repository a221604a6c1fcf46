"""What becomes of a job's queue ticket, given the job as the log has it.

A ticket is acked away when its job needs no more claims, terminated when the job is dead
lettered, and otherwise put back with a delay: the lease's length while the job is held, the
wait until it is due, or a moment for an agent without the job's labels. Pure, so every case is
tested without NATS; `infra.queue` turns a verdict into the JetStream ack it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.job import Job
from domain.job_status import FINISHED, LEASED, JobStatus

LABELS_MISSING_DELAY_S = 1.0
"""A ticket this agent may not run comes back after this long, so that it does not pull it
again at once; agents with the labels see it after that."""


class Settle(Enum):
    ACK = "ack"
    NAK = "nak"
    TERM = "term"


@dataclass(frozen=True)
class Verdict:
    settle: Settle
    delay_s: float = 0.0
    """For a nak: how long the ticket stays away."""
    reason: str = ""
    """For a term: why, as the consumer's advisory says it."""


ACK = Verdict(Settle.ACK)
DEAD_LETTERED = Verdict(Settle.TERM, reason="dead lettered")


def nak(delay_s: float = 0.0) -> Verdict:
    return Verdict(Settle.NAK, max(delay_s, 0.0))


def until_due(job: Job, now: datetime) -> float:
    """Seconds until the job may run: 0 when it is due."""
    return 0.0 if job.not_before is None else max((job.not_before - now).total_seconds(), 0.0)


def put_back(job: Job, now: datetime, lease_alive: bool) -> Verdict:
    """A ticket a claim pulled and did not take. A held job's ticket (redelivered by the
    ack_wait backstop) waits out the lease while the lease lives, else comes back at once."""
    if job.status in FINISHED or job.status is JobStatus.PENDING:
        return ACK
    if job.status is JobStatus.DEAD_LETTERED:
        return DEAD_LETTERED
    if job.status in LEASED:
        return nak(job.queue_spec.lease_s if lease_alive else 0.0)
    if not job.due(now):
        return nak(until_due(job, now))
    return nak(LABELS_MISSING_DELAY_S)


def after_change(job: Job, now: datetime) -> Verdict | None:
    """The ticket of a job its holder or an operator just changed; None while it is held."""
    if job.status in LEASED:
        return None
    if job.status is JobStatus.QUEUED:  # back for another attempt, when its backoff ends
        return nak(until_due(job, now))
    if job.status is JobStatus.DEAD_LETTERED:
        return DEAD_LETTERED
    return ACK
