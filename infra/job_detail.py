"""A job's detail: the board's row with its status history and every attempt, folded from the
job's own events (the board keeps neither: docs/architecture.md, Read models)."""

from __future__ import annotations

from uuid import UUID

from domain.job import Job
from infra.event_store import EventStore
from infra.unit_of_work import load_history
from projections.job_rows import JobView, detail
from projections.jobs import JobBoard


async def job_detail(store: EventStore, board: JobBoard, job_id: UUID) -> JobView | None:
    """None when the board does not hold the job. Folded up to the row's last event, so the
    detail is of the state the board shows, a past one (`?as_of=`) included."""
    row = board.row(str(job_id))
    if row is None:
        return None
    events = await load_history(store, Job.KIND, job_id)
    folded = detail(e for e in events if e.seq <= row.last_seq)
    return None if folded is None else folded.view()
