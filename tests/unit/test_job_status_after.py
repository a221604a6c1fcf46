"""`domain.job_effects.status_after`, the one mapping read models take a job's status from,
agrees with the aggregate's own handlers on every event of a history that meets every job event
class."""

from __future__ import annotations

from uuid import UUID

from domain.catalog import EVENT_TYPES
from domain.job import Job
from domain.job_effects import status_after
from tests.unit.test_model_skips import history

JOB_EVENT_CLASSES = {cls for name, cls in EVENT_TYPES.items() if name.startswith(f"{Job.KIND}.")}


def test_each_job_event_leaves_the_status_the_aggregate_takes() -> None:
    jobs: dict[UUID, Job] = {}
    met: set[type] = set()
    for recorded in history():
        event = recorded.event
        if recorded.kind != Job.KIND:
            assert status_after(event) is None
            continue
        job = event.mutate(jobs.get(event.originator_id))  # type: ignore[attr-defined]
        assert isinstance(job, Job)
        jobs[event.originator_id] = job
        met.add(type(event))
        assert status_after(event) is job.status, type(event).__name__
    assert met == JOB_EVENT_CLASSES
