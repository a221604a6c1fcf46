"""Job board: every job as it stands, filters, newest first, and running jobs."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
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

    def __init__(self, unpack_on_read: bool = False) -> None:
        """`unpack_on_read`: restored rows stay packed until read (`PackedRows`), for a past
        state that a request reads a page of."""
        self.jobs: dict[str, JobRow] = PackedRows() if unpack_on_read else {}
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
        """Rows are never deleted, and each knows the last event that changed it. In arrival
        order, which a past board's rows (`PackedRows`) keep whatever order they were read in."""
        gits: dict[GitContext, int] = {}
        jobs = self.jobs
        changed = (jobs[job_id] for job_id in self.arrivals.rows)
        rows = [pack(row, gits) for row in changed if row.last_seq > seq]
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
        status, job_id, running = _AT["status"], _AT["job_id"], JobStatus.RUNNING.value
        for packed in data["rows"]:
            if isinstance(self.jobs, PackedRows):
                self.jobs.put_packed(packed, gits)
            else:
                self.jobs[packed[job_id]] = unpack(packed, gits)
            if packed[status] == running:
                self.running.add(packed[job_id])
            else:
                self.running.discard(packed[job_id])


class PackedRows(dict[str, JobRow]):
    """Job rows that stay as a picture packed them until first read: a page of a past state
    reads tens of the tens of thousands of rows a picture holds, and unpacking them all was most
    of its cost (0.7 s at 60,000 jobs). Reading by key goes through `__missing__`; the calls
    that see every row unpack them all first."""

    def __init__(self) -> None:
        super().__init__()
        self._packed: dict[str, tuple[list[Any], list[GitContext]]] = {}

    def put_packed(self, packed: list[Any], gits: list[GitContext]) -> None:
        job_id = packed[_AT["job_id"]]
        super().pop(job_id, None)
        self._packed[job_id] = (packed, gits)

    def clear(self) -> None:
        self._packed.clear()
        super().clear()

    def __missing__(self, job_id: str) -> JobRow:
        if job_id not in self._packed:
            raise KeyError(job_id)
        row = unpack(*self._packed[job_id])
        self[job_id] = row  # and out of `_packed`
        return row

    def __setitem__(self, job_id: str, row: JobRow) -> None:
        self._packed.pop(job_id, None)
        super().__setitem__(job_id, row)

    def __delitem__(self, job_id: str) -> None:
        if self._packed.pop(job_id, None) is None:
            super().__delitem__(job_id)

    def get(self, job_id: str, default: Any = None) -> Any:
        return self[job_id] if job_id in self else default  # noqa: SIM401 (this is get)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._packed or super().__contains__(job_id)

    def __len__(self) -> int:
        return super().__len__() + len(self._packed)

    def __iter__(self) -> Iterator[str]:
        self._unpack_all()
        return super().__iter__()

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self._unpack_all()
        return super().keys()

    def values(self) -> ValuesView[JobRow]:  # type: ignore[override]
        self._unpack_all()
        return super().values()

    def items(self) -> ItemsView[str, JobRow]:  # type: ignore[override]
        self._unpack_all()
        return super().items()

    def _unpack_all(self) -> None:
        for job_id in list(self._packed):
            self.__missing__(job_id)


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
