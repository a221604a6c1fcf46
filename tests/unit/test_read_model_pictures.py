"""Pictures of the read models: restored, they answer as the originals did, and a change laid over
one gives the later state."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
import pytest

from domain.recorded import RecordedEvent
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
from projections.summary import JobStats
from tests.conftest import Recorder
from tests.unit.read_model_log import (
    PRODUCTION,
    STAGING,
    T0,
    S,
    advance,
    fed,
    finish,
    go_live,
    labels,
    new_deployment,
    new_job,
    pages,
    ran,
    start,
)


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
