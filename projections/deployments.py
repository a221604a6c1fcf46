"""Deployments: each one's progress, the list per service, and what is live where."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, ClassVar

from domain.deployment import Deployment, DeploymentStatus, Environment
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from projections.deployment_packing import pack, unpack
from projections.deployment_rows import (
    DeploymentRow,
    DeploymentView,
    Stage,
    StageTimes,
    created,
    evolve,
)
from projections.paging import ArrivalIndex
from projections.shared_values import SharedValues

__all__ = ["DeploymentBoard", "DeploymentRow", "DeploymentView", "Stage", "StageTimes"]


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
        self.shared = SharedValues()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Deployment.KIND:
            return
        row = self.deployments.get(recorded.aggregate_id)
        if row is None:
            if not isinstance(recorded.event, Deployment.Created):
                return
            row = self.deployments[recorded.aggregate_id] = created(recorded, recorded.event)
            row.git = self.shared.git(row.git)
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
        for row in (unpack(p, self.shared) for p in data["rows"]):
            self.deployments[row.deployment_id] = row
        for seq, deployment_id in data["arrivals"]:
            self.arrivals.add(seq, deployment_id)
            service = self.deployments[deployment_id].service_name
            self.by_service.setdefault(service, []).append(deployment_id)
        self.live = {
            service: {Environment(env): d for env, d in envs.items()}
            for service, envs in data["live"].items()
        }
