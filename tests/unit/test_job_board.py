"""The job board: filters, cursor pages, the running list and a job's detail, fed with real
events."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.deployment import Deployment
from domain.values import GitContext
from projections.job_rows import detail
from projections.jobs import JobBoard, JobFilter
from tests.conftest import Recorder
from tests.unit.read_model_log import HOUR, S, at, fed, finish, labels, new_job, pages, ran, start


@pytest.fixture
def four_jobs() -> JobBoard:
    """a: done on x; b: running on y; c: pending; d: failed on x. Created an hour apart."""
    rec = Recorder()
    a = new_job(rec, "a", "org/a", "main", created=0)
    b = new_job(rec, "b", "org/b", "main", created=HOUR)
    new_job(rec, "c", "org/a", "dev", created=2 * HOUR)
    d = new_job(rec, "d", "org/b", "dev", created=3 * HOUR)
    start(rec, a, "x")
    start(rec, b, "y")
    start(rec, d, "x")
    finish(rec, a, S.SUCCESS)
    finish(rec, d, S.FAILED)
    return fed(JobBoard(), rec.log)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, "dcba"),
        ({"status": "running"}, "b"),
        ({"status": "pending"}, "c"),
        ({"repo": "org/a"}, "ca"),
        ({"ref": "dev"}, "dc"),
        ({"agent_id": "x"}, "da"),
        ({"created_from": at(HOUR)}, "dcb"),
        ({"created_to": at(HOUR)}, "a"),
        ({"created_from": at(HOUR), "created_to": at(3 * HOUR)}, "cb"),
        ({"repo": "org/b", "status": "failed"}, "d"),
        ({"repo": "org/c"}, ""),
    ],
)
def test_job_board_filters_newest_first(
    four_jobs: JobBoard, flt: dict[str, Any], expected: str
) -> None:
    items, cursor = four_jobs.page(JobFilter.model_validate(flt), limit=10)
    assert (labels(items), cursor) == (expected, None)


@pytest.fixture
def nine_jobs() -> JobBoard:
    """Jobs 1..9, each started before the next is created, so their sequences have gaps."""
    rec = Recorder()
    for n in range(1, 10):
        start(rec, new_job(rec, str(n), repo="org/odd" if n % 2 else "org/even"))
    return fed(JobBoard(), rec.log)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, ["9", "8", "7", "6", "5", "4", "3", "2", "1"]),
        (3, ["987", "654", "321"]),
        (4, ["9876", "5432", "1"]),
        (9, ["987654321"]),
        (10, ["987654321"]),
    ],
)
def test_cursor_pages_have_no_duplicates_or_gaps(
    nine_jobs: JobBoard, limit: int, expected: list[str]
) -> None:
    assert pages(nine_jobs, JobFilter(), limit) == expected


def test_cursor_pages_keep_the_filter(nine_jobs: JobBoard) -> None:
    assert pages(nine_jobs, JobFilter(repo="org/odd"), 2) == ["97", "53", "1"]


def test_running_list_holds_running_jobs_most_recently_changed_first() -> None:
    rec = Recorder()
    a, b, c = (new_job(rec, label) for label in "abc")
    for job in (b, a, c):
        start(rec, job)
    finish(rec, c, S.SUCCESS)
    board = fed(JobBoard(), rec.log)
    assert labels(board.list_running()) == "ab"


def test_job_detail_keeps_history_outcome_and_duration() -> None:
    rec = Recorder()
    ran(rec, "a", S.TIMEOUT, took=42.5)
    row = detail(rec.log)
    assert row is not None
    view = row.view()
    assert [(h.status, h.event, h.seq) for h in view.history] == [
        (S.PENDING, "job.Created", 1),
        (S.RUNNING, "job.Started", 2),
        (S.TIMEOUT, "job.Completed", 3),
    ]
    assert {h.actor for h in view.history} == {"tester"}
    assert view.history[1].agent_id == "agent-1"
    assert (view.status, view.exit_code, view.duration_s) == (S.TIMEOUT, 1, 42.5)
    assert (view.started_at, view.finished_at, view.last_seq) == (at(1), at(43.5), 3)


def test_job_board_ignores_deployment_events() -> None:
    rec = Recorder()
    rec.record(Deployment.create(uuid4(), "api", "v1", GitContext(commit_sha="abc1234")))
    assert fed(JobBoard(), rec.log).page(JobFilter(), 10) == ([], None)
