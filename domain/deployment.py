"""The Deployment aggregate: staging, production, live, and the way back."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.model import Aggregate
from domain.values import GitContext


class DeploymentStatus(StrEnum):
    PENDING = "pending"
    STAGING = "staging"
    STAGED = "staged"
    PRODUCTION = "production"
    LIVE = "live"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    SUPERSEDED = "superseded"


class Outcome(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Environment(StrEnum):
    STAGING = "staging"
    PRODUCTION = "production"


D = DeploymentStatus
ROLLBACK_FROM = frozenset({D.STAGED, D.PRODUCTION, D.LIVE, D.FAILED})
STAGE_STATUS = {
    Environment.STAGING: {Outcome.STARTED: D.STAGING, Outcome.SUCCEEDED: D.STAGED},
    Environment.PRODUCTION: {Outcome.STARTED: D.PRODUCTION, Outcome.SUCCEEDED: D.LIVE},
}
STAGE_ENTRY = {Environment.STAGING: D.PENDING, Environment.PRODUCTION: D.STAGED}
"""Each stage is entered from one status; `started` moves into it, `succeeded` or `failed` out."""


class Deployment(Aggregate):
    KIND = "deployment"
    id: UUID  # lets a command choose the id, so a retried create lands on the same aggregate

    class Created(Aggregate.Created):
        service_name: str
        service_version: str
        git: GitContext

    class StageStarted(Aggregate.Event):
        environment: Environment

    class StageSucceeded(Aggregate.Event):
        environment: Environment
        metrics: dict[str, float]

    class StageFailed(Aggregate.Event):
        environment: Environment
        reason: str
        metrics: dict[str, float]

    class Superseded(Aggregate.Event):
        by_deployment_id: UUID

    class RolledBack(Aggregate.Event):
        reason: str
        restored_deployment_id: UUID | None
        restored_version: str | None

    class Restored(Aggregate.Event):
        after_rollback_of: UUID

    @event(Created)
    def __init__(self, service_name: str, service_version: str, git: GitContext) -> None:
        self.service_name = service_name
        self.service_version = service_version
        self.git = git
        self.status = DeploymentStatus.PENDING

    @classmethod
    def create(
        cls, deployment_id: UUID, service_name: str, service_version: str, git: GitContext
    ) -> Deployment:
        # eventsourcing takes `id` through its metaclass, which mypy cannot see
        return cls(  # type: ignore[call-arg]
            id=deployment_id, service_name=service_name, service_version=service_version, git=git
        )

    def advance(
        self,
        environment: Environment,
        outcome: Outcome,
        reason: str = "",
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Report a stage; `succeeded` right from the entry status records the start too."""
        started = STAGE_STATUS[environment][Outcome.STARTED]
        if outcome is Outcome.STARTED or self.status is STAGE_ENTRY[environment]:
            self._require(self.status is STAGE_ENTRY[environment], f"start {environment}")
            self._stage_started(environment=environment)
        if outcome is Outcome.STARTED:
            return
        self._require(self.status is started, f"report {environment} {outcome}")
        if outcome is Outcome.SUCCEEDED:
            self._stage_succeeded(environment=environment, metrics=metrics or {})
        else:
            self._stage_failed(environment=environment, reason=reason, metrics=metrics or {})

    def supersede(self, by_deployment_id: UUID) -> None:
        self._require(self.status is DeploymentStatus.LIVE, "supersede")
        self._superseded(by_deployment_id=by_deployment_id)

    def roll_back(self, reason: str, restored: Deployment | None) -> None:
        self._require(self.status in ROLLBACK_FROM, "roll back")
        self._rolled_back(
            reason=reason,
            restored_deployment_id=restored.id if restored else None,
            restored_version=restored.service_version if restored else None,
        )

    def restore(self, after_rollback_of: UUID) -> None:
        self._require(self.status is DeploymentStatus.SUPERSEDED, "restore")
        self._restored(after_rollback_of=after_rollback_of)

    def _require(self, allowed: bool, action: str) -> None:
        if not allowed:
            self._refuse(action)

    @event(StageStarted)
    def _stage_started(self, environment: Environment) -> None:
        self.status = STAGE_STATUS[environment][Outcome.STARTED]

    @event(StageSucceeded)
    def _stage_succeeded(self, environment: Environment, metrics: dict[str, float]) -> None:
        del metrics
        self.status = STAGE_STATUS[environment][Outcome.SUCCEEDED]

    @event(StageFailed)
    def _stage_failed(
        self, environment: Environment, reason: str, metrics: dict[str, float]
    ) -> None:
        del environment, reason, metrics
        self.status = DeploymentStatus.FAILED

    @event(Superseded)
    def _superseded(self, by_deployment_id: UUID) -> None:
        del by_deployment_id
        self.status = DeploymentStatus.SUPERSEDED

    @event(RolledBack)
    def _rolled_back(
        self, reason: str, restored_deployment_id: UUID | None, restored_version: str | None
    ) -> None:
        del reason, restored_deployment_id, restored_version
        self.status = DeploymentStatus.ROLLED_BACK

    @event(Restored)
    def _restored(self, after_rollback_of: UUID) -> None:
        del after_rollback_of
        self.status = DeploymentStatus.LIVE
