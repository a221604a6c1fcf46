"""Job board: every job as it stands, filters, newest first, and running jobs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from heapq import merge
from itertools import islice
from operator import itemgetter
from typing import Any, ClassVar

import orjson

from domain.job import Job
from domain.job_status import FINISHED, JobStatus
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.finished_jobs import FinishedJobs
from projections.job_packing import (
    AT,
    FINISHED_VALUES,
    PackedRows,
    inline_git,
    pack,
    stored,
    stored_packed,
    unpack,
    unpack_alone,
    unpack_detail,
)
from projections.job_rows import JobRow, created, evolve
from projections.job_views import JobFilter, JobView
from projections.paging import ArrivalIndex, CreatedIndex
from projections.shared_values import SharedValues

__all__ = ["JobBoard", "JobFilter", "JobRow", "JobView"]

WALK_PAST = 1000
"""Rows in memory created after a range's end that a walk by arrival may pass before it picks
by creation time instead."""


class JobBoard:
    name: ClassVar[str] = "jobs"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self, unpack_on_read: bool = False, finished: FinishedJobs | None = None) -> None:
        """`unpack_on_read`: restored rows stay packed until read (`PackedRows`), for a past
        state that a request reads a page of. `finished`: where finished jobs go, out of memory
        (the API's board); without it every row stays in memory (a past state, a rebuild)."""
        self.jobs: dict[str, JobRow] = PackedRows() if unpack_on_read else {}
        """The rows in memory: the jobs in flight, and without a store every job."""
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        """Of the rows in memory, and of rows since stored (skipped: `_in_memory`)."""
        self.arrived: dict[str, int] = {}
        """With a store: the arrival of each row in memory, which the store orders by."""
        self.running: set[str] = set()
        self.finished = finished
        self.created = CreatedIndex()
        """With a store: the rows in memory by creation time."""
        self._stored_since_compact = 0
        self.shared = SharedValues()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Job.KIND:
            return
        job_id = recorded.aggregate_id
        row = self.jobs.get(job_id)
        if row is None:
            if not isinstance(recorded.event, Job.Created):
                return
            detailed = self.finished is not None
            row = self.jobs[job_id] = created(recorded, recorded.event, detailed)
            row.git, row.metadata = self.shared.git(row.git), self.shared.metadata(row.metadata)
            self.arrivals.add(recorded.seq, job_id)
            if self.finished is not None:
                self.arrived[job_id] = recorded.seq
                self.created.add(row.created_at, job_id)
        else:
            evolve(row, recorded)
        if row.status is JobStatus.RUNNING:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)
            if self.finished is not None and row.status in FINISHED:
                self._store(row)

    def _store(self, row: JobRow) -> None:
        """A finished job leaves memory for good: it never changes again."""
        assert self.finished is not None
        job_id = row.job_id
        self.finished.add(stored(self.arrived[job_id], row))
        del self.jobs[job_id], self.arrived[job_id]
        self._stored_since_compact += 1
        if self._stored_since_compact > max(1024, len(self.jobs)):
            self._compact()

    def _in_memory(self, job_id: str) -> bool:
        return job_id in self.jobs

    def close(self) -> None:
        if self.finished is not None:
            self.finished.close()

    def flush_store(self) -> None:
        if self.finished is not None:
            self.finished.flush()

    def stored_section(self, base: int, upto: int) -> Iterator[bytes] | None:
        return None if self.finished is None else self.finished.rows_between(base, upto)

    def row(self, job_id: str) -> JobRow | None:
        row = self.jobs.get(job_id)
        if row is None and self.finished is not None:
            packed = self.finished.get(job_id)
            row = None if packed is None else unpack_alone(orjson.loads(packed))
        return row

    def detailed(self, job_id: str) -> JobRow | None:
        """The job with its history and every attempt, when this board saw all of it: a board
        with a store details the jobs it sees created, in memory, then in the store."""
        row = self.jobs.get(job_id)
        if row is not None:
            return row if row.detailed else None
        found = None if self.finished is None else self.finished.detail(job_id)
        return (
            None if found is None else unpack_detail(unpack_alone(orjson.loads(found[0])), found[1])
        )

    def get(self, job_id: str) -> JobView | None:
        row = self.row(job_id)
        return None if row is None else row.view(detail=False)

    def count(self) -> int:
        return len(self.jobs) + (0 if self.finished is None else self.finished.count())

    def page(
        self, flt: JobFilter, limit: int, before: int | None = None
    ) -> tuple[list[JobView], int | None]:
        """Newest first: the rows in memory and the stored ones, merged by arrival. A finished
        status is looked for only in the store: walking every job in flight to find none of them
        cost most of such a page."""
        jobs = self.jobs
        only_stored = self.finished is not None and flt.status in FINISHED
        in_memory = (
            (seq, jobs[i])
            for seq, i in ([] if only_stored else self._newest_first(flt, before))
            if i in jobs and flt.keep(jobs[i])
        )
        kept = self._stored_page(flt, limit + 1, before)
        found = list(islice(merge(in_memory, kept, key=itemgetter(0), reverse=True), limit + 1))
        items = [row.view(detail=False) for _, row in found[:limit]]
        return items, found[limit - 1][0] if len(found) > limit else None

    def _newest_first(self, flt: JobFilter, before: int | None) -> Iterable[tuple[int, str]]:
        """The rows in memory a page walks, newest arrival first. With a store they are the jobs
        in flight, which a creation range meets at any point of history: walking them all by
        arrival to find the few created in an early second took 300 ms with 66,000 in flight
        (bench.history_scale), so a range that ends before the newest of them picks them by
        creation time; one that reaches them (all time, say) is met at once by the walk, where
        picking would sort them all (170 ms)."""
        end = flt.created_to
        if self.finished is None or end is None or self.created.since(end) < WALK_PAST:
            return self.arrivals.newest_first(before)  # the walk meets the range at once
        chosen = self.created.between(flt.created_from, flt.created_to)
        found = [(self.arrived[i], i) for i in chosen if i in self.arrived]
        return sorted((p for p in found if before is None or p[0] < before), reverse=True)

    def _stored_page(
        self, flt: JobFilter, limit: int, before: int | None
    ) -> Iterator[tuple[int, JobRow]]:
        if self.finished is not None:
            for arrival, packed in self.finished.page(flt, limit, before):
                yield arrival, unpack_alone(orjson.loads(packed))

    def list_running(self) -> list[JobView]:
        rows = sorted((self.jobs[i] for i in self.running), key=lambda j: j.last_seq, reverse=True)
        return [row.view(detail=False) for row in rows]

    def dump(self) -> Any:
        return self.dump_since(0)

    def restore(self, data: Any) -> None:
        if self.finished is not None:
            self.finished.clear()
        self.resume(data)

    def resume(self, data: Any) -> None:
        self.jobs.clear()
        self.running.clear()
        self.arrived.clear()
        self.arrivals = ArrivalIndex()
        self.created = CreatedIndex()
        self.restore_since(data)

    def keep_resume_point(self, point: bytes) -> None:
        if self.finished is not None:
            self.finished.keep_resume_point(point)

    def take_resume_point(self) -> bytes | None:
        return None if self.finished is None else self.finished.take_resume_point()

    def dump_since(self, seq: int) -> Any:
        """The rows in memory (a stored row is pictured from the store: `FinishedJobs`) that
        changed after `seq`: rows know the last event that changed them. In the order the board
        holds them (a restore depends on no order): walking the arrival index instead, a lookup
        per job ever seen, cost a picture at 200,000 events four times as much."""
        gits: dict[GitContext, int] = {}
        jobs = self.jobs
        arrivals = [(a, i) for a, i in self.arrivals.since(seq) if i in jobs]
        rows = [pack(row, gits) for row in jobs.values() if row.last_seq > seq]
        return {
            "arrivals": arrivals,
            "gits": [git.__dict__ for git in gits],  # only strings: its JSON form
            "rows": rows,
        }

    def restoring(self) -> AbstractContextManager[None]:
        return nullcontext() if self.finished is None else self.finished.refilled()

    def restore_since(self, data: Any) -> None:
        for seq, job_id in data["arrivals"]:
            self.arrivals.add(seq, job_id)
            if self.finished is not None:
                self.arrived[job_id] = seq
        gits = [self.shared.git_of(fields) for fields in data["gits"]]
        for packed in data["rows"]:
            if self.finished is not None and packed[AT["status"]] in FINISHED_VALUES:
                packed[AT["git"]] = gits[packed[AT["git"]]].__dict__
                self._store_packed(self.arrived.pop(packed[AT["job_id"]]), packed)
            else:
                self._restore_row(packed, gits)
        self._compact()

    def restore_stored(self, rows: Iterable[tuple[int, list[Any]]]) -> None:
        """Lay a store's section (`FinishedJobs.rows_between`) over the board: finished rows,
        each with its arrival and its git context inline, into the store, or into memory for a
        board without one."""
        late: list[tuple[int, str]] = []
        for arrival, packed in rows:
            if self.finished is not None:
                self.arrived.pop(packed[AT["job_id"]], None)
                self._store_packed(arrival, packed)
                continue
            if packed[AT["job_id"]] not in self.jobs:  # its arrival is not indexed yet
                late.append((arrival, packed[AT["job_id"]]))
            self._restore_row(packed, [inline_git(packed)])
        self.arrivals.merge(late)
        self._compact()

    def _store_packed(self, arrival: int, packed: list[Any]) -> None:
        assert self.finished is not None
        job_id = packed[AT["job_id"]]
        self.jobs.pop(job_id, None)
        self.running.discard(job_id)
        self.finished.add(stored_packed(arrival, packed))

    def _restore_row(self, packed: list[Any], gits: list[GitContext]) -> None:
        job_id = packed[AT["job_id"]]
        if isinstance(self.jobs, PackedRows):
            self.jobs.put_packed(packed, gits)
        else:
            row = self.jobs[job_id] = unpack(packed, gits)
            if self.finished is not None:
                self.created.add(row.created_at, job_id)
        if packed[AT["status"]] == JobStatus.RUNNING.value:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)

    def _compact(self) -> None:
        """Stored rows leave the arrival index (a restore stores many at once)."""
        if self.finished is not None:
            self.arrivals.keep_only(self._in_memory)
            self.created.keep_only(self._in_memory)
            self._stored_since_compact = 0
