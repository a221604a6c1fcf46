"""Deployments: each one's progress, the list per service, and what is live where."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from domain.deployment import STAGE_STATUS, Deployment, DeploymentStatus, Environment, Outcome
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


def _change(recorded: RecordedEvent, status: DeploymentStatus) -> DeploymentChange:
    return DeploymentChange(
        seq=recorded.seq,
        at=recorded.at,
        actor=recorded.cause.actor,
        event=recorded.type,
        status=status,
    )


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


def _stage(view: DeploymentView, env: Environment, **changes: Any) -> dict[Environment, StageTimes]:
    times = view.environments.get(env, StageTimes()).model_copy(update=changes)
    if times.started_at and times.finished_at:
        span = (times.finished_at - times.started_at).total_seconds()
        times = times.model_copy(update={"duration_s": span})
    return view.environments | {env: times}


def _finish_stage(
    view: DeploymentView, e: Any, status: DeploymentStatus, reason: str
) -> dict[str, Any]:
    envs = _stage(view, e.environment, finished_at=e.timestamp, failure_reason=reason)
    metrics = view.metrics | e.metrics
    duration = envs[e.environment].duration_s
    if duration is not None:
        metrics = metrics | {f"{e.environment.value}_duration_s": duration}
    return {"status": status, "environments": envs, "metrics": metrics}


def evolve(view: DeploymentView | None, recorded: RecordedEvent) -> DeploymentView | None:
    update: dict[str, Any]
    match recorded.event:
        case Deployment.Created() as e:
            return DeploymentView(
                deployment_id=str(e.originator_id),
                service_name=e.service_name,
                service_version=e.service_version,
                status=DeploymentStatus.PENDING,
                git=e.git,
                created_at=e.timestamp,
                last_seq=recorded.seq,
                history=(_change(recorded, DeploymentStatus.PENDING),),
            )
        case _ if view is None:
            return None
        case Deployment.StageStarted() as e:
            update = {
                "status": STAGE_STATUS[e.environment][Outcome.STARTED],
                "environments": _stage(view, e.environment, started_at=e.timestamp),
            }
        case Deployment.StageSucceeded() as e:
            done = STAGE_STATUS[e.environment][Outcome.SUCCEEDED]
            update = _finish_stage(view, e, done, "")
        case Deployment.StageFailed() as e:
            update = _finish_stage(view, e, DeploymentStatus.FAILED, e.reason)
        case Deployment.Superseded() as e:
            update = {
                "status": DeploymentStatus.SUPERSEDED,
                "superseded_by": str(e.by_deployment_id),
            }
        case Deployment.RolledBack() as e:
            restored = e.restored_deployment_id
            rollback = Rollback(
                reason=e.reason,
                at=e.timestamp,
                restored_deployment_id=str(restored) if restored else None,
                restored_version=e.restored_version,
            )
            update = {"status": DeploymentStatus.ROLLED_BACK, "rollback": rollback}
        case Deployment.Restored():
            update = {"status": DeploymentStatus.LIVE, "superseded_by": None}
        case _:
            return view
    change = _change(recorded, update.get("status", view.status))
    return view.model_copy(
        update=update | {"last_seq": recorded.seq, "history": (*view.history, change)}
    )


LIVE_IN = {
    Environment.STAGING: frozenset({DeploymentStatus.STAGED}),
    Environment.PRODUCTION: frozenset({DeploymentStatus.LIVE}),
}


class DeploymentBoard:
    name: ClassVar[str] = "deployments"
    kinds: ClassVar[frozenset[str]] = frozenset({Deployment.KIND})

    def __init__(self) -> None:
        self.deployments: dict[str, DeploymentView] = {}
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        self.by_service: dict[str, list[str]] = {}
        self.live: dict[str, dict[Environment, str]] = {}
        """service -> environment -> deployment id that is live there."""

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Deployment.KIND:
            return
        before = self.deployments.get(recorded.aggregate_id)
        after = evolve(before, recorded)
        if after is None or after is before:
            return
        self.deployments[after.deployment_id] = after
        if before is None:
            self.arrivals.add(recorded.seq, after.deployment_id)
            self.by_service.setdefault(after.service_name, []).append(after.deployment_id)
        self._track_live(after)

    def _track_live(self, view: DeploymentView) -> None:
        live = self.live.setdefault(view.service_name, {})
        for env, statuses in LIVE_IN.items():
            if view.status in statuses:
                live[env] = view.deployment_id
            elif live.get(env) == view.deployment_id and env is Environment.PRODUCTION:
                del live[env]

    def get(self, deployment_id: str) -> DeploymentView | None:
        return self.deployments.get(deployment_id)

    def page(
        self, service: str | None, status: DeploymentStatus | None, limit: int, before: int | None
    ) -> tuple[list[DeploymentView], int | None]:
        def keep(i: str) -> bool:
            d = self.deployments[i]
            return (service is None or d.service_name == service) and (
                status is None or d.status is status
            )

        ids, cursor = self.arrivals.page(keep, limit, before)
        return [self.deployments[i] for i in ids], cursor

    def for_service(self, service: str) -> list[DeploymentView]:
        return [self.deployments[i] for i in reversed(self.by_service.get(service, []))]

    def live_deployment(self, service: str, env: Environment) -> DeploymentView | None:
        found = self.live.get(service, {}).get(env)
        return self.deployments[found] if found else None

    def live_versions(self) -> dict[str, dict[Environment, str]]:
        return {
            service: {env: self.deployments[d].service_version for env, d in envs.items()}
            for service, envs in sorted(self.live.items())
            if envs
        }

    def dump(self) -> Any:
        return {
            "arrivals": list(zip(self.arrivals.seqs, self.arrivals.rows, strict=True)),
            "deployments": [d.model_dump(mode="json") for d in self.deployments.values()],
            "live": {s: {env.value: d for env, d in envs.items()} for s, envs in self.live.items()},
        }

    def restore(self, data: Any) -> None:
        self.deployments.clear()
        self.by_service.clear()
        self.live.clear()
        self.arrivals = ArrivalIndex()
        views = {
            v.deployment_id: v for v in map(DeploymentView.model_validate, data["deployments"])
        }
        for seq, deployment_id in data["arrivals"]:
            view = views[deployment_id]
            self.arrivals.add(seq, deployment_id)
            self.deployments[deployment_id] = view
            self.by_service.setdefault(view.service_name, []).append(deployment_id)
        self.live = {
            service: {Environment(env): d for env, d in envs.items()}
            for service, envs in data["live"].items()
        }
