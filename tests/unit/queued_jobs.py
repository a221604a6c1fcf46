"""Jobs queued, claimed and failed by the domain alone, at fixed times: for queue tests without
I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from domain.job import Job
from domain.queue import FailureClass, QueueSpec
from tests.queue_helpers import GIT

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(seconds=10)


def queued(**spec: Any) -> Job:
    job = Job.create(uuid4(), "build", GIT, {})
    job.queue(QueueSpec(**spec))
    return job


def claimed(job: Job, agent_id: str = "agent-1") -> Job:
    job.claim(agent_id, f"$JS.ACK.{agent_id}.{job.attempts + 1}")
    return job


def fail(job: Job, retryable: bool = True) -> None:
    job.fail("exit 1", FailureClass.SCRIPT, retryable, 1, LATER)
