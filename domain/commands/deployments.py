"""Deployments: recorded, moved through staging and production, rolled back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from uuid import UUID

from domain.commands.base import Command
from domain.commands.results import Committed
from domain.deployment import Deployment, Environment, Outcome
from domain.values import GitContext


@dataclass(frozen=True)
class CreateDeployment(Command[Committed[Deployment]]):
    ACTION = "deployment.create"
    service_name: str
    service_version: str
    git: GitContext


@dataclass(frozen=True)
class ReportStage(Command[Committed[Deployment]]):
    """A stage's outcome; the action names both, e.g. `deployment.staging.succeeded`."""

    ENVIRONMENT: ClassVar[Environment]
    deployment_id: UUID
    outcome: Outcome
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return f"{self.ACTION}.{self.outcome.value}"


@dataclass(frozen=True)
class AdvanceDeployment(ReportStage):
    """A staging outcome: a report."""

    ENVIRONMENT = Environment.STAGING
    ACTION = "deployment.staging"


@dataclass(frozen=True)
class PromoteDeployment(ReportStage):
    """A production outcome: `succeeded` makes it live and supersedes the live one."""

    ENVIRONMENT = Environment.PRODUCTION
    ACTION = "deployment.production"


STAGES: dict[Environment, type[ReportStage]] = {
    command.ENVIRONMENT: command for command in (AdvanceDeployment, PromoteDeployment)
}


@dataclass(frozen=True)
class RollBackDeployment(Command[Committed[Deployment]]):
    """A live deployment hands production back to the one it superseded."""

    ACTION = "deployment.rollback"
    deployment_id: UUID
    reason: str
