"""Read models fed with events that real domain commands recorded and the codec round-tripped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from uuid import uuid4

import orjson
import pytest

from domain.deployment import Deployment, DeploymentStatus, Environment, Outcome
from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.base import Incremental, ReadModel
from projections.deployments import (
    DeploymentBoard,
    DeploymentRow,
    DeploymentView,
    Stage,
    StageTimes,
)
from projections.job_rows import detail
from projections.jobs import JobBoard, JobFilter, JobRow, JobView
from projections.sketch import RELATIVE_ACCURACY
from projections.summary import JobStats, p95
from tests.conftest import Recorder

M = TypeVar("M", bound=ReadModel)
S = JobStatus
D = DeploymentStatus
STAGING, PRODUCTION = Environment.STAGING, Environment.PRODUCTION
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fed(model: M, log: list[RecordedEvent]) -> M:
    for recorded in log:
        model.apply(recorded)
    return model


def new_job(
    rec: Recorder, label: str, repo: str = "org/a", ref: str = "main", created: float = 0
) -> Job:
    git = GitContext(repo=repo, ref=ref, commit_sha="abc123def456")
    job = Job.create(uuid4(), "test", git, {"label": label})
    rec.record(job, at(created))
    return job


def start(rec: Recorder, job: Job, agent: str = "agent-1", when: float = 0) -> None:
    job.start(agent)
    rec.record(job, at(when))


def finish(rec: Recorder, job: Job, outcome: JobStatus, when: float = 0) -> None:
    job.complete(outcome, exit_code=0 if outcome is S.SUCCESS else 1)
    rec.record(job, at(when))


def ran(rec: Recorder, label: str, outcome: JobStatus, took: float, **job: Any) -> Job:
    """A job created, started and finished `took` seconds after it started."""
    created = new_job(rec, label, **job)
    start(rec, created, when=1)
    finish(rec, created, outcome, when=1 + took)
    return created


def labels(jobs: list[JobView]) -> str:
    return "".join(j.metadata["label"] for j in jobs)


# Job board


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


def pages(board: JobBoard, flt: JobFilter, limit: int) -> list[str]:
    """Every page's labels, following cursors until there is none."""
    out: list[str] = []
    cursor: int | None = None
    while True:
        items, cursor = board.page(flt, limit, cursor)
        out.append(labels(items))
        if cursor is None:
            return out


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


# Deployment board


def new_deployment(rec: Recorder, service: str, version: str, created: float = 0) -> Deployment:
    deployment = Deployment.create(uuid4(), service, version, GitContext(commit_sha="abc1234"))
    rec.record(deployment, at(created))
    return deployment


def advance(rec: Recorder, deployment: Deployment, env: Environment, when: float = 0) -> None:
    deployment.advance(env, Outcome.SUCCEEDED)
    rec.record(deployment, at(when))


def go_live(rec: Recorder, deployment: Deployment, replaces: Deployment | None = None) -> None:
    """Stage and release, superseding `replaces` as the deployment route does."""
    advance(rec, deployment, STAGING)
    advance(rec, deployment, PRODUCTION)
    if replaces is not None:
        replaces.supersede(deployment.id)
        rec.record(replaces)


def versions(views: list[DeploymentView]) -> list[str]:
    return [v.service_version for v in views]


def test_deployments_are_listed_per_service_newest_first() -> None:
    rec = Recorder()
    for service, version in [("api", "v1"), ("web", "v1"), ("api", "v2")]:
        new_deployment(rec, service, version)
    board = fed(DeploymentBoard(), rec.log)
    assert versions(board.for_service("api")) == ["v2", "v1"]
    assert versions(board.for_service("web")) == ["v1"]
    assert board.for_service("nope") == []


def test_deployment_page_filters_by_service_and_status() -> None:
    rec = Recorder()
    api1 = new_deployment(rec, "api", "v1")
    new_deployment(rec, "web", "v1")
    new_deployment(rec, "api", "v2")
    advance(rec, api1, STAGING)
    board = fed(DeploymentBoard(), rec.log)
    assert versions(board.page("api", None, 10, None)[0]) == ["v2", "v1"]
    assert versions(board.page(None, D.STAGED, 10, None)[0]) == ["v1"]
    first, cursor = board.page(None, None, 2, None)
    assert [v.service_name for v in first] == ["api", "web"]
    assert [v.service_name for v in board.page(None, None, 2, cursor)[0]] == ["api"]


def test_live_versions_per_service_and_environment() -> None:
    rec = Recorder()
    go_live(rec, new_deployment(rec, "api", "v1"))
    advance(rec, new_deployment(rec, "web", "v7"), STAGING)
    board = fed(DeploymentBoard(), rec.log)
    assert board.live_versions() == {
        "api": {STAGING: "v1", PRODUCTION: "v1"},
        "web": {STAGING: "v7"},
    }


def test_stage_times_and_duration_metric() -> None:
    rec = Recorder()
    deployment = new_deployment(rec, "api", "v1")
    deployment.advance(STAGING, Outcome.STARTED)
    rec.record(deployment, at(10))
    advance(rec, deployment, STAGING, when=70)
    view = fed(DeploymentBoard(), rec.log).get(str(deployment.id))
    assert view is not None
    assert view.environments[STAGING].duration_s == 60
    assert view.metrics == {"staging_duration_s": 60}


def test_new_live_deployment_supersedes_the_old_one() -> None:
    rec = Recorder()
    v1, v2 = new_deployment(rec, "api", "v1"), new_deployment(rec, "api", "v2")
    go_live(rec, v1)
    go_live(rec, v2, replaces=v1)
    board = fed(DeploymentBoard(), rec.log)
    old = board.get(str(v1.id))
    assert old is not None
    assert (old.status, old.superseded_by) == (D.SUPERSEDED, str(v2.id))
    live = board.live_deployment("api", PRODUCTION)
    assert live is not None
    assert live.deployment_id == str(v2.id)
    assert board.live_versions()["api"][PRODUCTION] == "v2"


def test_rollback_restores_the_superseded_deployment() -> None:
    rec = Recorder()
    v1, v2 = new_deployment(rec, "api", "v1"), new_deployment(rec, "api", "v2")
    go_live(rec, v1)
    go_live(rec, v2, replaces=v1)
    v2.roll_back("error spike", v1)
    v1.restore(v2.id)
    rec.record(v2, at(99))
    rec.record(v1, at(99))
    board = fed(DeploymentBoard(), rec.log)
    old, new = board.get(str(v1.id)), board.get(str(v2.id))
    assert old is not None
    assert new is not None
    assert (old.status, old.superseded_by) == (D.LIVE, None)
    assert new.status is D.ROLLED_BACK
    assert new.rollback is not None
    assert (new.rollback.reason, new.rollback.at) == ("error spike", at(99))
    assert new.rollback.restored_deployment_id == str(v1.id)
    assert new.rollback.restored_version == "v1"
    assert board.live_versions()["api"][PRODUCTION] == "v1"


def test_rolling_back_the_only_live_deployment_leaves_production_empty() -> None:
    rec = Recorder()
    v1 = new_deployment(rec, "api", "v1")
    go_live(rec, v1)
    v1.roll_back("bad", None)
    rec.record(v1)
    board = fed(DeploymentBoard(), rec.log)
    assert board.live_deployment("api", PRODUCTION) is None
    assert board.live_versions() == {"api": {STAGING: "v1"}}


# Job statistics


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


# Snapshots


def busy_log() -> tuple[list[RecordedEvent], list[RecordedEvent]]:
    """Jobs in every reachable status, deployments superseded and restored; then more events,
    some about the same aggregates (the running job finishes, `web` goes live)."""
    rec = Recorder()
    for n, outcome in enumerate([S.SUCCESS, S.FAILED, S.TIMEOUT, S.ERROR, S.CANCELLED]):
        ran(rec, f"done{n}", outcome, took=n + 1, repo=f"org/{n}")
    running = new_job(rec, "running", ref="dev")
    start(rec, running, agent="agent-9", when=5)
    new_job(rec, "pending")
    v1, v2 = new_deployment(rec, "api", "v1"), new_deployment(rec, "api", "v2")
    web = new_deployment(rec, "web", "w1")
    go_live(rec, v1)
    go_live(rec, v2, replaces=v1)
    v2.roll_back("errors", v1)
    v1.restore(v2.id)
    rec.record(v2)
    rec.record(v1)
    advance(rec, web, STAGING)
    before = len(rec.log)
    finish(rec, running, S.SUCCESS, when=65)
    start(rec, new_job(rec, "later"))
    advance(rec, web, PRODUCTION)
    return rec.log[:before], rec.log[before:]


def snapshot_of(model: ReadModel) -> Any:
    """The picture the projection runner stores: through JSON and back."""
    return orjson.loads(orjson.dumps(model.dump()))


MODELS = [JobBoard, partial(JobBoard, unpack_on_read=True), DeploymentBoard, JobStats]


@pytest.mark.parametrize("model", MODELS)
def test_restored_model_equals_the_original_and_stays_equal(model: type[ReadModel]) -> None:
    log, later = busy_log()
    original = fed(model(), log)
    restored = model()
    restored.restore(snapshot_of(original))
    assert restored.dump() == original.dump()
    assert fed(restored, later).dump() == fed(original, later).dump()


@pytest.mark.parametrize("unpack_on_read", [False, True])
def test_restored_job_board_answers_queries_like_the_original(unpack_on_read: bool) -> None:
    original = fed(JobBoard(), busy_log()[0])
    restored = JobBoard(unpack_on_read)
    restored.restore(snapshot_of(original))
    assert pages(restored, JobFilter(), 2) == pages(original, JobFilter(), 2)
    assert labels(restored.list_running()) == labels(original.list_running()) == "running"
    assert [restored.get(i) for i in original.jobs] == [original.get(i) for i in original.jobs]


def test_a_past_board_unpacks_only_the_rows_a_page_reads() -> None:
    original = fed(JobBoard(), busy_log()[0])
    restored = JobBoard(unpack_on_read=True)
    restored.restore(snapshot_of(original))
    assert len(restored.jobs) == len(original.jobs) > 2
    assert dict.__len__(restored.jobs) == 0
    assert restored.page(JobFilter(), 2) == original.page(JobFilter(), 2)
    assert dict.__len__(restored.jobs) == 3  # the page's two and the one that ends it
    assert "no such job" not in restored.jobs
    assert restored.get("no such job") is None
    packed_id = next(i for i in original.jobs if not dict.__contains__(restored.jobs, i))
    restored.jobs[packed_id] = original.jobs[packed_id]  # a write replaces the packed copy
    assert len(restored.jobs) == len(original.jobs)
    del restored.jobs[packed_id]
    assert packed_id not in restored.jobs
    assert len(restored.jobs) == len(original.jobs) - 1


@pytest.mark.parametrize("model", [JobBoard, DeploymentBoard])
def test_a_change_laid_over_a_picture_gives_the_later_state(model: type[ReadModel]) -> None:
    log, later = busy_log()
    board = fed(model(), log)
    whole = snapshot_of(board)
    since = log[-1].seq
    fed(board, later)
    assert isinstance(board, Incremental)
    changes = orjson.loads(orjson.dumps(board.dump_since(since)))
    restored = model()
    restored.restore(whole)
    assert isinstance(restored, Incremental)
    restored.restore_since(changes)
    assert restored.dump() == board.dump()
    assert len(changes["rows"]) < len(whole["rows"])


def test_restored_deployment_board_answers_queries_like_the_original() -> None:
    original = fed(DeploymentBoard(), busy_log()[0])
    restored = DeploymentBoard()
    restored.restore(snapshot_of(original))
    assert restored.live_versions() == original.live_versions()
    assert restored.for_service("api") == original.for_service("api")
    ids = list(original.deployments)
    assert [restored.get(i) for i in ids] == [original.get(i) for i in ids]


def test_the_board_holds_each_job_as_its_detail_shows_it_without_the_history() -> None:
    log = busy_log()[0]
    board = fed(JobBoard(), log)
    for job_id in board.jobs:
        row = detail(r for r in log if r.aggregate_id == job_id)
        assert row is not None
        assert row.history
        assert row.attempt_history or row.status is S.PENDING
        shown = board.get(job_id)
        assert shown is not None
        assert (shown.history, shown.attempt_history) == ((), ())
        assert shown == row.view().model_copy(update={"history": (), "attempt_history": ()})


def test_a_job_board_picture_holds_each_git_context_once_and_no_history() -> None:
    board = fed(JobBoard(), busy_log()[0])
    picture = snapshot_of(board)
    assert len(picture["gits"]) == len({row.git for row in board.jobs.values()})
    assert set(picture) == {"arrivals", "gits", "rows"}


def test_restored_job_stats_give_the_same_summary() -> None:
    original = fed(JobStats(), busy_log()[0])
    restored = JobStats()
    restored.restore(snapshot_of(original))
    assert restored.summary(T0, {}, 1) == original.summary(T0, {}, 1)


def test_the_board_rows_and_the_views_it_answers_with_have_the_same_fields() -> None:
    assert set(JobRow.__slots__) == set(JobView.model_fields)
    assert set(DeploymentRow.__slots__) == set(DeploymentView.model_fields)
    assert set(Stage.__slots__) == set(StageTimes.model_fields)
