"""A job's statuses and every move between them, which the Job aggregate enforces."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ERROR = "error"
    DEAD_LETTERED = "dead_lettered"


S = JobStatus
FINISHED = frozenset({S.SUCCESS, S.FAILED, S.TIMEOUT, S.CANCELLED, S.ERROR})
"""Outcomes a job's report may carry; each ends the job for good."""
LEASED = frozenset({S.CLAIMED, S.RUNNING})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.RUNNING, S.CANCELLED}),
    S.QUEUED: frozenset({S.CLAIMED, S.CANCELLED, S.DEAD_LETTERED}),
    S.CLAIMED: FINISHED | {S.RUNNING, S.QUEUED, S.DEAD_LETTERED},
    S.RUNNING: FINISHED | {S.QUEUED, S.DEAD_LETTERED},
    S.DEAD_LETTERED: frozenset({S.QUEUED, S.CANCELLED}),
    **{status: frozenset() for status in FINISHED},
}
"""Every allowed move. A finished job never changes again; a dead letter may be queued again."""
