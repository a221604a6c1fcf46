"""The Deployment status machine: every command from every status, and what each one records."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from uuid import UUID, uuid4

import pytest

from domain.deployment import Deployment, DeploymentStatus, Environment, Outcome
from domain.errors import InvalidTransitionError
from domain.values import GitContext

D = DeploymentStatus
Command = Callable[[Deployment], None]
OTHER = UUID(int=7)


def advance(env: Environment, outcome: Outcome) -> Command:
    def command(deployment: Deployment) -> None:
        deployment.advance(env, outcome, reason="smoke failed" if outcome is Outcome.FAILED else "")

    return command


COMMANDS: dict[str, Command] = {
    **{f"{env}.{out}": advance(env, out) for env, out in product(Environment, Outcome)},
    "supersede": lambda d: d.supersede(OTHER),
    "roll back": lambda d: d.roll_back("bad release", None),
    "restore": lambda d: d.restore(OTHER),
}

START, PASS, FAIL = "StageStarted", "StageSucceeded", "StageFailed"
ALLOWED: dict[tuple[DeploymentStatus, str], tuple[DeploymentStatus, list[str]]] = {
    (D.PENDING, "staging.started"): (D.STAGING, [START]),
    (D.PENDING, "staging.succeeded"): (D.STAGED, [START, PASS]),
    (D.PENDING, "staging.failed"): (D.FAILED, [START, FAIL]),
    (D.STAGING, "staging.succeeded"): (D.STAGED, [PASS]),
    (D.STAGING, "staging.failed"): (D.FAILED, [FAIL]),
    (D.STAGED, "production.started"): (D.PRODUCTION, [START]),
    (D.STAGED, "production.succeeded"): (D.LIVE, [START, PASS]),
    (D.STAGED, "production.failed"): (D.FAILED, [START, FAIL]),
    (D.PRODUCTION, "production.succeeded"): (D.LIVE, [PASS]),
    (D.PRODUCTION, "production.failed"): (D.FAILED, [FAIL]),
    (D.LIVE, "supersede"): (D.SUPERSEDED, ["Superseded"]),
    (D.SUPERSEDED, "restore"): (D.LIVE, ["Restored"]),
    **{(s, "roll back"): (D.ROLLED_BACK, ["RolledBack"]) for s in (D.STAGED, D.PRODUCTION, D.LIVE)},
    (D.FAILED, "roll back"): (D.ROLLED_BACK, ["RolledBack"]),
}
"""Every allowed (status, command): the status it leads to and the events it records."""

PATHS: dict[DeploymentStatus, list[str]] = {
    D.PENDING: [],
    D.STAGING: ["staging.started"],
    D.STAGED: ["staging.succeeded"],
    D.PRODUCTION: ["staging.succeeded", "production.started"],
    D.LIVE: ["staging.succeeded", "production.succeeded"],
    D.FAILED: ["staging.failed"],
    D.ROLLED_BACK: ["staging.succeeded", "roll back"],
    D.SUPERSEDED: ["staging.succeeded", "production.succeeded", "supersede"],
}
FORBIDDEN = [(s, n) for s, n in product(D, COMMANDS) if (s, n) not in ALLOWED]


def deployment_in(status: DeploymentStatus, version: str = "v1.0.0") -> Deployment:
    deployment = Deployment.create(uuid4(), "api", version, GitContext(commit_sha="abc123def456"))
    for name in PATHS[status]:
        COMMANDS[name](deployment)
    deployment.collect_events()
    assert deployment.status is status
    return deployment


def ids(pairs: list[tuple[DeploymentStatus, str]]) -> list[str]:
    return [f"{status}-{name}" for status, name in pairs]


def test_every_status_is_reachable() -> None:
    assert set(PATHS) == set(DeploymentStatus)


@pytest.mark.parametrize(("status", "name"), list(ALLOWED), ids=ids(list(ALLOWED)))
def test_allowed_command_moves_deployment_and_records_its_events(
    status: DeploymentStatus, name: str
) -> None:
    deployment = deployment_in(status)
    COMMANDS[name](deployment)
    target, events = ALLOWED[status, name]
    assert deployment.status is target
    assert [type(e).__name__ for e in deployment.collect_events()] == events


@pytest.mark.parametrize(("status", "name"), FORBIDDEN, ids=ids(FORBIDDEN))
def test_forbidden_command_raises_and_names_current_status(
    status: DeploymentStatus, name: str
) -> None:
    deployment = deployment_in(status)
    with pytest.raises(InvalidTransitionError, match=f"in status {status}$") as raised:
        COMMANDS[name](deployment)
    assert raised.value.status == status
    assert deployment.status is status
    assert deployment.collect_events() == []


@pytest.mark.parametrize("env", list(Environment))
def test_succeeded_from_entry_status_records_start_then_success(env: Environment) -> None:
    deployment = deployment_in(D.PENDING if env is Environment.STAGING else D.STAGED)
    deployment.advance(env, Outcome.SUCCEEDED, metrics={"error_rate": 0.01})
    started, succeeded = deployment.collect_events()
    assert isinstance(started, Deployment.StageStarted)
    assert isinstance(succeeded, Deployment.StageSucceeded)
    assert started.environment is succeeded.environment is env
    assert succeeded.metrics == {"error_rate": 0.01}
    assert started.originator_version + 1 == succeeded.originator_version


def test_failed_stage_records_reason_and_metrics() -> None:
    deployment = deployment_in(D.STAGING)
    deployment.advance(Environment.STAGING, Outcome.FAILED, "smoke failed", {"p99_ms": 900.0})
    (failed,) = deployment.collect_events()
    assert isinstance(failed, Deployment.StageFailed)
    assert (failed.reason, failed.metrics) == ("smoke failed", {"p99_ms": 900.0})


def test_roll_back_names_the_deployment_it_restores() -> None:
    previous, current = deployment_in(D.SUPERSEDED, "v0.9.0"), deployment_in(D.LIVE)
    current.roll_back("error spike", previous)
    previous.restore(current.id)
    (rolled_back,) = current.collect_events()
    (restored,) = previous.collect_events()
    assert isinstance(rolled_back, Deployment.RolledBack)
    assert rolled_back.reason == "error spike"
    assert rolled_back.restored_deployment_id == previous.id
    assert rolled_back.restored_version == "v0.9.0"
    assert isinstance(restored, Deployment.Restored)
    assert restored.after_rollback_of == current.id
    assert (current.status, previous.status) == (D.ROLLED_BACK, D.LIVE)


def test_supersede_names_the_new_live_deployment() -> None:
    deployment = deployment_in(D.LIVE)
    deployment.supersede(OTHER)
    (superseded,) = deployment.collect_events()
    assert isinstance(superseded, Deployment.Superseded)
    assert superseded.by_deployment_id == OTHER
