"""Job board: every job as it stands, filters, newest first, and running jobs."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar

from domain.job import Job, JobStatus
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.job_attempts import Attempt
from projections.job_rows import JobFilter, JobRow, JobView, created, evolve
from projections.paging import ArrivalIndex

__all__ = ["JobBoard", "JobFilter", "JobRow", "JobView"]


class JobBoard:
    name: ClassVar[str] = "jobs"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND})

    def __init__(self) -> None:
        self.jobs: dict[str, JobRow] = {}
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        self.running: set[str] = set()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Job.KIND:
            return
        job_id = recorded.aggregate_id
        row = self.jobs.get(job_id)
        if row is None:
            if not isinstance(recorded.event, Job.Created):
                return
            row = self.jobs[job_id] = created(recorded, recorded.event)
            self.arrivals.add(recorded.seq, job_id)
        else:
            evolve(row, recorded)
        if row.status is JobStatus.RUNNING:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)

    def get(self, job_id: str) -> JobView | None:
        row = self.jobs.get(job_id)
        return None if row is None else row.view()

    def page(
        self, flt: JobFilter, limit: int, before: int | None = None
    ) -> tuple[list[JobView], int | None]:
        ids, cursor = self.arrivals.page(lambda i: flt.keep(self.jobs[i]), limit, before)
        return [self.jobs[i].view() for i in ids], cursor

    def list_running(self) -> list[JobView]:
        rows = sorted((self.jobs[i] for i in self.running), key=lambda j: j.last_seq, reverse=True)
        return [row.view() for row in rows]

    def dump(self) -> Any:
        return self.dump_since(0)

    def restore(self, data: Any) -> None:
        self.jobs.clear()
        self.running.clear()
        self.arrivals = ArrivalIndex()
        self.restore_since(data)

    def dump_since(self, seq: int) -> Any:
        """Rows are never deleted, and each knows the last event that changed it."""
        gits: dict[GitContext, int] = {}
        rows = [pack(row, gits) for row in self.jobs.values() if row.last_seq > seq]
        start = bisect_right(self.arrivals.seqs, seq)
        return {
            "arrivals": list(
                zip(self.arrivals.seqs[start:], self.arrivals.rows[start:], strict=True)
            ),
            "gits": [git.__dict__ for git in gits],  # only strings: its JSON form
            "rows": rows,
        }

    def restore_since(self, data: Any) -> None:
        for seq, job_id in data["arrivals"]:
            self.arrivals.add(seq, job_id)
        gits = [GitContext.model_construct(None, **fields) for fields in data["gits"]]
        for packed in data["rows"]:
            row = unpack(packed, gits)
            self.jobs[row.job_id] = row
            if row.status is JobStatus.RUNNING:
                self.running.add(row.job_id)
            else:
                self.running.discard(row.job_id)


# A whole picture holds every job, so rows are stored as positional lists (in slot order) and
# rebuilt without validation: the snapshot's code version is this file's, so it holds what this
# code wrote. Going through JobView cost seconds per snapshot at 200,000 events, and field by field
# packing still most of a second: a restore is the cold cost of every past state. Git contexts,
# shared by many jobs, are a table. Rows hold no history (`JobRow.detailed`): it was most of a
# picture (39 MB of JSON at 200,000 events) and most of a restore.
_ROW = attrgetter(*JobRow.__slots__)
_AT = {name: i for i, name in enumerate(JobRow.__slots__)}
_TIMES = tuple(_AT[name] for name in ("created_at", "queued_at", "started_at", "finished_at"))
_STATUSES = {status.value: status for status in JobStatus}
"""A dict lookup: calling the enum class costs several times more, once per row."""


def pack(row: JobRow, gits: dict[GitContext, int]) -> list[Any]:
    """orjson writes the datetimes and enums; the queue spec as a dict; `gits` numbers the
    picture's git contexts."""
    out = list(_ROW(row))
    out[_AT["git"]] = gits.setdefault(row.git, len(gits))
    if row.queue is not None:
        out[_AT["queue"]] = row.queue.model_dump(mode="json")
    out[_AT["attempt_history"]] = [attempt.pack() for attempt in row.attempt_history]
    return out


def unpack(packed: list[Any], gits: list[GitContext]) -> JobRow:
    """`gits`: the picture's table (a frozen context is shared by its jobs)."""
    for i in _TIMES:
        if packed[i] is not None:
            packed[i] = datetime.fromisoformat(packed[i])
    packed[_AT["status"]] = _STATUSES[packed[_AT["status"]]]
    packed[_AT["git"]] = gits[packed[_AT["git"]]]
    if packed[_AT["queue"]] is not None:
        packed[_AT["queue"]] = QueueSpec.model_validate(packed[_AT["queue"]])
    packed[_AT["artifact_urls"]] = tuple(packed[_AT["artifact_urls"]])
    packed[_AT["attempt_history"]] = list(map(Attempt.unpack, packed[_AT["attempt_history"]]))
    return JobRow(*packed)
