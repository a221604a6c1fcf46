"""A job's detail: the board's row with its status history and every attempt, as the API's
board kept them for the jobs it saw created, else folded from the job's own events (a past
state's board, or a job that was in flight when this process started, keeps neither:
docs/architecture.md, Read models)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from domain.errors import UnavailableError
from domain.job import Job
from domain.recorded import RecordedEvent
from infra.event_store import EventStore
from infra.unit_of_work import load_history
from projections.job_rows import detail
from projections.job_views import JobView
from projections.jobs import JobBoard

RETRY_S = 0.01


async def job_detail(
    store: EventStore, board: JobBoard, job_id: UUID, wait_s: float
) -> JobView | None:
    """None when the board does not hold the job. Folded up to the row's last event, so the
    detail is of the state the board shows, a past one (`?as_of=`) included."""
    kept = board.detailed(str(job_id))
    if kept is not None:  # one read of the store: the detailed row is the row
        return kept.view()
    row = board.row(str(job_id))
    if row is None:
        return None
    events = await history_through(store, job_id, row.last_seq, wait_s)
    folded = detail(e for e in events if e.seq <= row.last_seq)
    return None if folded is None else folded.view()


async def history_through(
    store: EventStore, job_id: UUID, seq: int, wait_s: float
) -> list[RecordedEvent]:
    """The job's events, at least through `seq`. A Direct Get may be answered by a replica of
    the stream that has not yet stored what the read models already show (a cluster test saw a
    finished job's detail without its last event), so it is asked again until it has."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    pause = RETRY_S
    while True:
        events = await load_history(store, Job.KIND, job_id)
        if events and events[-1].seq >= seq:
            return events
        if loop.time() + pause > deadline:
            raise UnavailableError(f"the event store is not yet at {seq} for job {job_id}")
        await asyncio.sleep(pause)
        pause *= 2
