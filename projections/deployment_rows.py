"""One deployment as the board keeps it, with its stages and its status history, and how each
event changes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from domain.deployment import STAGE_STATUS, Deployment, DeploymentStatus, Environment, Outcome
from domain.recorded import RecordedEvent
from domain.values import GitContext


class StageTimes(BaseModel):
    model_config = ConfigDict(frozen=True)

    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    failure_reason: str = ""


class Rollback(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str
    at: datetime
    restored_deployment_id: str | None
    restored_version: str | None


class DeploymentChange(BaseModel):
    """One event of the deployment: who caused it and the status it left."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    actor: str
    event: str
    status: DeploymentStatus


class DeploymentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment_id: str
    service_name: str
    service_version: str
    status: DeploymentStatus
    git: GitContext
    created_at: datetime
    environments: dict[Environment, StageTimes] = {}
    superseded_by: str | None = None
    rollback: Rollback | None = None
    metrics: dict[str, float] = {}
    last_seq: int
    history: tuple[DeploymentChange, ...] = ()


class Change(NamedTuple):
    """A DeploymentChange as the board keeps it; made once per event, so kept light."""

    seq: int
    at: datetime
    actor: str
    event: str
    status: DeploymentStatus


@dataclass(slots=True)
class Stage:
    """StageTimes as the board keeps it: changed in place."""

    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    failure_reason: str = ""


@dataclass(slots=True)
class DeploymentRow:
    """A deployment as the board keeps it: changed in place, one event at a time.

    As on the job board: replays apply every event here, and copying pydantic models per event
    cost more than decoding it, so the validated `DeploymentView` is built only when a reader
    asks. The two declare the same fields; a unit test keeps them in step.
    """

    deployment_id: str
    service_name: str
    service_version: str
    status: DeploymentStatus
    git: GitContext
    created_at: datetime
    last_seq: int
    environments: dict[Environment, Stage] = field(default_factory=dict)
    superseded_by: str | None = None
    rollback: Rollback | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[Change] = field(default_factory=list)

    def move(self, recorded: RecordedEvent, status: DeploymentStatus) -> None:
        self.status = status
        self.last_seq = recorded.seq
        self.history.append(
            Change(recorded.seq, recorded.at, recorded.cause.actor, recorded.type, status)
        )

    def stage(self, env: Environment, **changes: Any) -> Stage:
        times = self.environments.setdefault(env, Stage())
        for name, value in changes.items():
            setattr(times, name, value)
        if times.started_at and times.finished_at:
            times.duration_s = (times.finished_at - times.started_at).total_seconds()
        return times

    def view(self) -> DeploymentView:
        fields = {name: getattr(self, name) for name in self.__slots__}
        envs = {env: StageTimes(**_fields(times)) for env, times in self.environments.items()}
        history = [DeploymentChange(**change._asdict()) for change in self.history]
        return DeploymentView(**(fields | {"environments": envs, "history": history}))


def _fields(times: Stage) -> dict[str, Any]:
    return {name: getattr(times, name) for name in Stage.__slots__}


def created(recorded: RecordedEvent, e: Deployment.Created) -> DeploymentRow:
    row = DeploymentRow(
        deployment_id=str(e.originator_id),
        service_name=e.service_name,
        service_version=e.service_version,
        status=DeploymentStatus.PENDING,
        git=e.git,
        created_at=e.timestamp,
        last_seq=recorded.seq,
    )
    row.move(recorded, DeploymentStatus.PENDING)
    return row


def evolve(row: DeploymentRow, recorded: RecordedEvent) -> None:
    """Fold one event into a deployment's row; deterministic, so replays agree."""
    match recorded.event:
        case Deployment.StageStarted() as e:
            row.stage(e.environment, started_at=e.timestamp)
            row.move(recorded, STAGE_STATUS[e.environment][Outcome.STARTED])
        case Deployment.StageSucceeded() as e:
            _finish_stage(row, e, "")
            row.move(recorded, STAGE_STATUS[e.environment][Outcome.SUCCEEDED])
        case Deployment.StageFailed() as e:
            _finish_stage(row, e, e.reason)
            row.move(recorded, DeploymentStatus.FAILED)
        case Deployment.Superseded() as e:
            row.superseded_by = str(e.by_deployment_id)
            row.move(recorded, DeploymentStatus.SUPERSEDED)
        case Deployment.RolledBack() as e:
            restored = e.restored_deployment_id
            row.rollback = Rollback(
                reason=e.reason,
                at=e.timestamp,
                restored_deployment_id=str(restored) if restored else None,
                restored_version=e.restored_version,
            )
            row.move(recorded, DeploymentStatus.ROLLED_BACK)
        case Deployment.Restored():
            row.superseded_by = None
            row.move(recorded, DeploymentStatus.LIVE)


def _finish_stage(
    row: DeploymentRow, e: Deployment.StageSucceeded | Deployment.StageFailed, reason: str
) -> None:
    times = row.stage(e.environment, finished_at=e.timestamp, failure_reason=reason)
    row.metrics.update(e.metrics)
    if times.duration_s is not None:
        row.metrics[f"{e.environment.value}_duration_s"] = times.duration_s
