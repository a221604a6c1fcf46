"""The dashboard's job figures: counts, success rate, durations and the day's deployments, fed
with real events."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.job import Job
from domain.queue import QueueSpec
from domain.values import GitContext
from projections.sketch import RELATIVE_ACCURACY
from projections.summary import JobStats, p95
from tests.conftest import Recorder
from tests.unit.read_model_log import (
    HOUR,
    PRODUCTION,
    T0,
    S,
    at,
    fed,
    finish,
    new_deployment,
    new_job,
    ran,
    start,
)


def test_summary_counts_and_success_rate_excluding_cancelled() -> None:
    rec = Recorder()
    outcomes = [S.SUCCESS, S.SUCCESS, S.SUCCESS, S.FAILED, S.CANCELLED, S.CANCELLED]
    for n, outcome in enumerate(outcomes):
        ran(rec, str(n), outcome, took=1)
    start(rec, new_job(rec, "running"))
    finish(rec, new_job(rec, "cancelled before start"), S.CANCELLED)
    new_job(rec, "pending")
    summary = fed(JobStats(), rec.log).summary(T0, {}, seq=99)
    assert summary.jobs_total == 9
    assert {s: n for s, n in summary.jobs_by_status.items() if n} == {
        S.SUCCESS: 3,
        S.FAILED: 1,
        S.CANCELLED: 3,
        S.RUNNING: 1,
        S.PENDING: 1,
    }
    assert summary.success_rate == 0.75
    assert (summary.running_now, summary.as_of_seq) == (1, 99)


def test_success_rate_is_none_when_no_job_was_judged() -> None:
    rec = Recorder()
    finish(rec, new_job(rec, "a"), S.CANCELLED)
    new_job(rec, "b")
    assert fed(JobStats(), rec.log).success_rate() is None


def test_duration_mean_and_nearest_rank_p95_skip_cancelled_jobs() -> None:
    rec = Recorder()
    for took in [7, 19, 3, 20, 1, 12, 5, 16, 9, 14, 2, 18, 11, 4, 15, 8, 13, 6, 17, 10]:
        ran(rec, str(took), S.FAILED if took % 3 else S.SUCCESS, took=took)
    ran(rec, "cancelled", S.CANCELLED, took=1000)
    duration = fed(JobStats(), rec.log).duration()
    assert (duration.count, duration.mean_s) == (20, 10.5)
    assert duration.p95_s == pytest.approx(19, rel=RELATIVE_ACCURACY)
    assert duration.p95_s != pytest.approx(18, rel=RELATIVE_ACCURACY)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([4.0], 4.0), ([1.0, 2.0], 2.0), ([float(n) for n in range(1, 101)], 95.0)],
)
def test_p95_is_nearest_rank(values: list[float], expected: float | None) -> None:
    assert p95(values) == expected


def test_summary_counts_deployments_of_the_last_24_hours_and_live_versions() -> None:
    rec = Recorder()
    for created in (-25 * HOUR, -23 * HOUR, -1):
        new_deployment(rec, "api", "v", created=created)
    live = {"api": {PRODUCTION: "v1"}}
    summary = fed(JobStats(), rec.log).summary(T0, live, seq=3)
    assert (summary.deployments_last_24h, summary.live_versions) == (2, live)


def test_job_stats_keep_no_finished_job_and_no_deployment_older_than_a_day() -> None:
    rec = Recorder()
    outcomes = [S.SUCCESS, S.FAILED, S.SUCCESS, S.CANCELLED]
    for n in range(200):
        ran(rec, str(n), outcomes[n % 4], took=n % 7 + 1)
    dead = Job.create(
        uuid4(), "test", GitContext(commit_sha="abc1234"), {}, QueueSpec(max_attempts=1)
    )
    rec.record(dead, at(0))
    dead.claim("agent-1", "ack-1")
    dead.start("agent-1")
    dead.lose_attempt("lease expired", at(3))
    rec.record(dead, at(2))
    waiting = new_job(rec, "waiting")
    for day in range(10):
        new_deployment(rec, "api", f"v{day}", created=day * 24 * HOUR)
    new_deployment(rec, "api", "late", created=9 * 24 * HOUR - 1)
    stats = fed(JobStats(), rec.log)
    assert stats.status_of == {str(dead.id): S.DEAD_LETTERED, str(waiting.id): S.PENDING}
    assert stats.started == {}
    day_8, day_9 = at(8 * 24 * HOUR), at(9 * 24 * HOUR)
    assert list(stats.deployment_times) == [day_8, day_9, day_9 - timedelta(seconds=1)]
    summary = stats.summary(at(9 * 24 * HOUR + 1), {}, seq=len(rec.log))
    assert summary.jobs_total == 202
    assert summary.jobs_by_status[S.SUCCESS] == 100
    assert summary.jobs_by_status[S.CANCELLED] == 50
    assert summary.deployments_last_24h == 2
