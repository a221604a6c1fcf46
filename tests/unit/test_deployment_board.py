"""The deployment board: listings, live versions, stage times, supersede and roll back, fed with
real events."""

from __future__ import annotations

from domain.deployment import Outcome
from projections.deployments import (
    DeploymentBoard,
)
from tests.conftest import Recorder
from tests.unit.read_model_log import (
    PRODUCTION,
    STAGING,
    D,
    advance,
    at,
    fed,
    go_live,
    new_deployment,
    versions,
)


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
