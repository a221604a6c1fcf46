"""Many jobs enqueued in one request: each is a command of its own, run and answered on its own,
so one bad job refuses only itself."""

from __future__ import annotations

from dataclasses import dataclass

from domain.commands.base import Command
from domain.commands.jobs import EnqueueJob, QueueJob
from domain.commands.results import Committed
from domain.errors import JetDeckError
from domain.job import Job

ItemOutcome = Committed[Job] | JetDeckError
"""What became of one job of a batch: the job as its command left it, or the refusal."""


@dataclass(frozen=True)
class BatchItem:
    command: EnqueueJob | QueueJob
    request_hash: str
    """The hash of this job's own request, so a retried batch is checked job by job."""


@dataclass(frozen=True)
class EnqueueBatch(Command[tuple[ItemOutcome, ...]]):
    ACTION = "job.enqueue_batch"
    items: tuple[BatchItem, ...]
