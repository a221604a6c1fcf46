"""A job's attempts in its detail: each with its own agent, times and outcome, whether the
queue handed the job out or the dashboard reported it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson
import pytest

from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import FailureClass, QueueSpec
from domain.recorded import RecordedEvent
from projections.job_attempts import Attempt, AttemptOutcome, AttemptView
from projections.job_rows import detail
from projections.job_views import JobView
from projections.jobs import JobBoard
from tests.conftest import Recorder
from tests.queue_helpers import GIT

T0 = datetime(2026, 2, 1, tzinfo=UTC)
A = AttemptOutcome


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def queue_story() -> tuple[list[RecordedEvent], Job]:
    """Lost by a1, released by a3, failed with a covered exit code on a2, passed on a1."""
    rec = Recorder()
    spec = QueueSpec(max_attempts=3, retry={"exit_codes": [1]})
    job = Job.create(uuid4(), "build", GIT, {}, spec)
    steps: list[tuple[float, Callable[[], None]]] = [
        (0, lambda: None),
        (10, lambda: job.claim("a1", "ack-1")),
        (40, lambda: job.lose_attempt("lease expired", at(40))),
        (60, lambda: job.claim("a3", "ack-2")),
        (61, job.release),
        (70, lambda: job.claim("a2", "ack-3")),
        (71, lambda: job.start("a2")),
        (100, lambda: job.fail("exited with 1", FailureClass.SCRIPT, True, 1, at(110))),
        (120, lambda: job.claim("a1", "ack-4")),
        (121, lambda: job.start("a1")),
        (151, lambda: job.complete(JobStatus.SUCCESS, 0)),
    ]
    for when, step in steps:
        step()
        rec.record(job, at(when))
    return rec.log, job


def summary(attempt: AttemptView) -> tuple[Any, ...]:
    return (
        attempt.number,
        attempt.agent_id,
        attempt.outcome,
        attempt.claimed_at,
        attempt.started_at,
        attempt.finished_at,
        attempt.duration_s,
        attempt.exit_code,
    )


def detail_of(log: list[RecordedEvent]) -> JobView:
    row = detail(log)
    assert row is not None
    return row.view()


def board_of(log: list[RecordedEvent]) -> JobBoard:
    board = JobBoard()
    for recorded in log:
        board.apply(recorded)
    return board


def test_every_attempt_keeps_its_agent_times_and_outcome() -> None:
    log, _ = queue_story()
    view = detail_of(log)
    assert [summary(a) for a in view.attempt_history] == [
        (1, "a1", A.LOST, at(10), None, at(40), 30.0, None),
        (2, "a3", A.RELEASED, at(60), None, at(61), 1.0, None),
        (2, "a2", A.FAILED, at(70), at(71), at(100), 29.0, 1),
        (3, "a1", A.SUCCESS, at(120), at(121), at(151), 30.0, 0),
    ]
    assert view.attempt_history[0].reason == "lease expired"
    assert (view.attempts, view.status, view.agent_id) == (3, JobStatus.SUCCESS, "a1")
    assert (view.duration_s, view.total_duration_s) == (30.0, 151.0)


def test_a_running_attempt_is_open_and_counts() -> None:
    log, _ = queue_story()
    view = detail_of(log[:7])
    assert [(a.number, a.outcome, a.finished_at) for a in view.attempt_history][-1] == (
        2,
        A.RUNNING,
        None,
    )
    assert (view.attempts, view.total_duration_s) == (2, None)


def test_a_job_reported_through_the_dashboard_counts_its_attempt() -> None:
    rec = Recorder()
    job = Job.create(uuid4(), "build", GIT, {})
    rec.record(job, at(0))
    job.start("external-ci")
    rec.record(job, at(5))
    job.complete(JobStatus.FAILED, exit_code=2, summary="tests failed")
    rec.record(job, at(12))
    view = detail_of(rec.log)
    assert view.attempts == 1
    assert [summary(a) for a in view.attempt_history] == [
        (1, "external-ci", A.FAILED, None, at(5), at(12), 7.0, 2)
    ]
    assert view.attempt_history[0].reason == "tests failed"
    assert (view.duration_s, view.total_duration_s) == (7.0, 12.0)


def test_a_job_cancelled_before_it_ran_has_no_attempt() -> None:
    rec = Recorder()
    job = Job.create(uuid4(), "build", GIT, {}, QueueSpec())
    rec.record(job, at(0))
    job.cancel("not needed")
    rec.record(job, at(3))
    view = detail_of(rec.log)
    assert (view.attempts, view.attempt_history, view.total_duration_s) == (0, (), 3.0)


def test_a_dead_letter_ends_the_job_until_an_operator_retries_it() -> None:
    rec = Recorder()
    job = Job.create(uuid4(), "build", GIT, {}, QueueSpec(max_attempts=1))
    rec.record(job, at(0))
    job.claim("a1", "ack-1")
    rec.record(job, at(1))
    job.lose_attempt("agent lost", at(9))
    rec.record(job, at(9))
    view = detail_of(rec.log)
    assert (view.status, view.total_duration_s) == (JobStatus.DEAD_LETTERED, 9.0)
    job.requeue("operator")
    rec.record(job, at(20))
    view = detail_of(rec.log)
    assert (view.attempts, view.total_duration_s, len(view.attempt_history)) == (0, None, 1)


@pytest.mark.parametrize("cut", range(len(queue_story()[0]) + 1))
def test_a_snapshot_anywhere_then_the_tail_reads_like_a_full_replay(cut: int) -> None:
    log, job = queue_story()
    restored = JobBoard()
    restored.restore(orjson.loads(orjson.dumps(board_of(log[:cut]).dump())))
    for recorded in log[cut:]:
        restored.apply(recorded)
    assert restored.get(str(job.id)) == board_of(log).get(str(job.id))


def test_the_attempt_rows_and_views_have_the_same_fields() -> None:
    assert list(Attempt.__slots__) == list(AttemptView.model_fields)
