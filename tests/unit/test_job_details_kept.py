"""The API's board keeps each job's detail (status history, every attempt) for the jobs it saw
created, in memory and then in its store, and gives exactly what folding the job's own events
gives; a row it did not see whole (restored from a picture) has no detail, never part of one."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import FailureClass, QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.pictures import Chain
from projections.finished_jobs import FinishedJobs
from projections.job_rows import detail
from projections.job_views import JobFilter
from projections.jobs import JobBoard
from tests.conftest import Recorder
from tests.unit.read_model_log import at
from tests.unit.test_finished_jobs import fed, picture_of

Step = Callable[[Job], None]
GIT = GitContext(repo="org/a", ref="main", commit_sha="0a1b2c3")


def claim(j: Job) -> None:
    j.claim("agent-1", "ack")


def start(j: Job) -> None:
    j.start("agent-1")


def fail(j: Job) -> None:
    j.fail("exit 2", FailureClass.SCRIPT, retryable=True, exit_code=2, retry_at=at(0))


def lose(j: Job) -> None:
    j.lose_attempt("lease expired", at(0))


def release(j: Job) -> None:
    j.release()


def succeed(j: Job) -> None:
    j.complete(JobStatus.SUCCESS, 0)


LIVES: list[list[Step]] = [
    [claim, start, fail, claim, release, claim, start, lose, claim, start, succeed],
    [claim, start, fail, claim, start, fail, claim, start, fail],  # dead-lettered
    [claim, start, lose, claim, start],  # running its second attempt
    [claim, release],
    [claim, start, succeed],
    [lambda j: j.cancel("not needed")],
]


def retried(jobs: int, seed: int = 5) -> list[RecordedEvent]:
    """Jobs with three attempts each, interleaved, each living one of LIVES or a prefix of it."""
    rng = random.Random(seed)
    rec = Recorder()
    active: list[tuple[Job, list[Step]]] = []
    clock = 0.0
    for n in range(jobs):
        job = Job.create(UUID(int=n + 1), "build", GIT, {}, QueueSpec(max_attempts=3))
        life = rng.choice(LIVES)
        active.append((job, life[: rng.randint(len(life) // 2, len(life))]))
        rec.record(job, at(clock))
    while active:
        clock += 1
        i = rng.randrange(len(active))
        job, steps = active[i]
        if not steps:
            active.pop(i)
            continue
        steps.pop(0)(job)
        rec.record(job, at(clock))
    return rec.log


def folded(log: list[RecordedEvent], job_id: str) -> dict[str, object] | None:
    row = detail(r for r in log if r.aggregate_id == job_id)
    return None if row is None else row.view().model_dump()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FinishedJobs]:
    finished = FinishedJobs(tmp_path / "finished.sqlite3")
    yield finished
    finished.close()


def test_each_job_seen_created_has_the_detail_its_events_fold_to(store: FinishedJobs) -> None:
    log = retried(120)
    board = fed(JobBoard(finished=store), log)
    ids = sorted({r.aggregate_id for r in log})
    assert 0 < store.count() < len(ids), "some jobs finished, some still in flight"
    for job_id in ids:
        kept = board.detailed(job_id)
        assert kept is not None, job_id
        assert kept.view().model_dump() == folded(log, job_id)
    assert any(len(board.detailed(i).attempt_history) == 4 for i in ids)  # type: ignore[union-attr]
    assert board.detailed("no-such-job") is None


def test_lists_show_no_detail(store: FinishedJobs) -> None:
    log = retried(40)
    board = fed(JobBoard(finished=store), log)
    items, _ = board.page(JobFilter(), limit=100)
    assert items
    assert all(item.history == () and item.attempt_history == () for item in items)
    assert board.list_running() == fed(JobBoard(), log).list_running()


def test_rows_restored_from_pictures_have_no_detail_until_seen_whole(
    store: FinishedJobs, tmp_path: Path
) -> None:
    log = retried(80)
    half = len(log) // 2
    board = fed(JobBoard(finished=store), log[:half])
    restored = JobBoard(finished=FinishedJobs(tmp_path / "restored.sqlite3"))
    Chain([picture_of(board, half, base=0)]).restore(restored)
    fed(restored, log[half:])
    for job_id in sorted({r.aggregate_id for r in log}):
        kept = restored.detailed(job_id)
        seen_whole = any(r.aggregate_id == job_id for r in log[half:] if r.type == "job.created")
        if seen_whole:
            assert kept is not None
            assert kept.view().model_dump() == folded(log, job_id)
        else:
            assert kept is None, job_id
