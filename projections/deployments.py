"""Deployments: each one's progress, the list per service, and what is live where."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

from domain.deployment import STAGE_STATUS, Deployment, DeploymentStatus, Environment, Outcome
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.paging import ArrivalIndex


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


LIVE_IN = {
    Environment.STAGING: frozenset({DeploymentStatus.STAGED}),
    Environment.PRODUCTION: frozenset({DeploymentStatus.LIVE}),
}


class DeploymentBoard:
    name: ClassVar[str] = "deployments"
    kinds: ClassVar[frozenset[str]] = frozenset({Deployment.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self) -> None:
        self.deployments: dict[str, DeploymentRow] = {}
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        self.by_service: dict[str, list[str]] = {}
        self.live: dict[str, dict[Environment, str]] = {}
        """service -> environment -> deployment id that is live there."""

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Deployment.KIND:
            return
        row = self.deployments.get(recorded.aggregate_id)
        if row is None:
            if not isinstance(recorded.event, Deployment.Created):
                return
            row = self.deployments[recorded.aggregate_id] = created(recorded, recorded.event)
            self.arrivals.add(recorded.seq, row.deployment_id)
            self.by_service.setdefault(row.service_name, []).append(row.deployment_id)
        else:
            evolve(row, recorded)
        self._track_live(row)

    def _track_live(self, row: DeploymentRow) -> None:
        live = self.live.setdefault(row.service_name, {})
        for env, statuses in LIVE_IN.items():
            if row.status in statuses:
                live[env] = row.deployment_id
            elif live.get(env) == row.deployment_id and env is Environment.PRODUCTION:
                del live[env]

    def get(self, deployment_id: str) -> DeploymentView | None:
        row = self.deployments.get(deployment_id)
        return None if row is None else row.view()

    def page(
        self, service: str | None, status: DeploymentStatus | None, limit: int, before: int | None
    ) -> tuple[list[DeploymentView], int | None]:
        def keep(i: str) -> bool:
            d = self.deployments[i]
            return (service is None or d.service_name == service) and (
                status is None or d.status is status
            )

        ids, cursor = self.arrivals.page(keep, limit, before)
        return [self.deployments[i].view() for i in ids], cursor

    def for_service(self, service: str) -> list[DeploymentView]:
        ids = reversed(self.by_service.get(service, []))
        return [self.deployments[i].view() for i in ids]

    def live_deployment(self, service: str, env: Environment) -> DeploymentView | None:
        found = self.live.get(service, {}).get(env)
        return self.deployments[found].view() if found else None

    def live_versions(self) -> dict[str, dict[Environment, str]]:
        return {
            service: {env: self.deployments[d].service_version for env, d in envs.items()}
            for service, envs in sorted(self.live.items())
            if envs
        }

    def dump(self) -> Any:
        return self.dump_since(0)

    def restore(self, data: Any) -> None:
        self.deployments.clear()
        self.by_service.clear()
        self.arrivals = ArrivalIndex()
        self.restore_since(data)

    def dump_since(self, seq: int) -> Any:
        """Rows are never deleted, and each knows the last event that changed it; `live` is
        small and whole."""
        start = bisect_right(self.arrivals.seqs, seq)
        return {
            "arrivals": list(
                zip(self.arrivals.seqs[start:], self.arrivals.rows[start:], strict=True)
            ),
            "rows": [pack(row) for row in self.deployments.values() if row.last_seq > seq],
            "live": {s: {env.value: d for env, d in envs.items()} for s, envs in self.live.items()},
        }

    def restore_since(self, data: Any) -> None:
        gits: dict[tuple[str, ...], GitContext] = {}
        for row in (unpack(p, gits) for p in data["rows"]):
            self.deployments[row.deployment_id] = row
        for seq, deployment_id in data["arrivals"]:
            self.arrivals.add(seq, deployment_id)
            service = self.deployments[deployment_id].service_name
            self.by_service.setdefault(service, []).append(deployment_id)
        self.live = {
            service: {Environment(env): d for env, d in envs.items()}
            for service, envs in data["live"].items()
        }


# Rows are stored as positional lists (in slot order) and rebuilt without validation, as on the
# job board: the snapshot's code version is this file's, so it holds what this code wrote.
_ROW = attrgetter(*DeploymentRow.__slots__)
_AT = {name: i for i, name in enumerate(DeploymentRow.__slots__)}
_STAGE = attrgetter(*Stage.__slots__)
_STATUSES = {status.value: status for status in DeploymentStatus}
_ENVIRONMENTS = {env.value: env for env in Environment}


def pack(row: DeploymentRow) -> list[Any]:
    """orjson writes the datetimes and enums; the git context and rollback as dicts."""
    out = list(_ROW(row))
    out[_AT["git"]] = row.git.__dict__  # only strings: its field dict is its JSON form
    out[_AT["environments"]] = {env.value: _STAGE(t) for env, t in row.environments.items()}
    if row.rollback is not None:
        out[_AT["rollback"]] = row.rollback.model_dump(mode="json")
    out[_AT["history"]] = [tuple(change) for change in row.history]  # orjson skips subclasses
    return out


def unpack(packed: list[Any], gits: dict[tuple[str, ...], GitContext]) -> DeploymentRow:
    """`gits`: the contexts already rebuilt; many deployments share one, and a frozen one is
    shared."""
    packed[_AT["status"]] = _STATUSES[packed[_AT["status"]]]
    packed[_AT["git"]] = _git(packed[_AT["git"]], gits)
    packed[_AT["created_at"]] = datetime.fromisoformat(packed[_AT["created_at"]])
    packed[_AT["environments"]] = {
        _ENVIRONMENTS[env]: _stage(*times) for env, times in packed[_AT["environments"]].items()
    }
    if packed[_AT["rollback"]] is not None:
        packed[_AT["rollback"]] = Rollback.model_validate(packed[_AT["rollback"]])
    packed[_AT["history"]] = [
        Change(seq, datetime.fromisoformat(at), actor, event, _STATUSES[status])
        for seq, at, actor, event, status in packed[_AT["history"]]
    ]
    return DeploymentRow(*packed)


def _stage(started: str | None, finished: str | None, duration: float | None, why: str) -> Stage:
    return Stage(
        None if started is None else datetime.fromisoformat(started),
        None if finished is None else datetime.fromisoformat(finished),
        duration,
        why,
    )


def _git(fields: dict[str, str], gits: dict[tuple[str, ...], GitContext]) -> GitContext:
    key = tuple(fields.values())
    found = gits.get(key)
    if found is None:
        found = gits[key] = GitContext.model_construct(None, **fields)
    return found
