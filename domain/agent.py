"""The Agent aggregate: a build agent's registration, its observed health and the operator's drain.

Health (what heartbeats say) and draining (what an operator wants) are kept apart, so a drained
agent's health is still recorded and `resume` returns it to whatever health it has by then.
Heartbeats themselves are not events; only a change of health is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from uuid import UUID

from eventsourcing.domain import event
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.health import (
    AgentStatus,
    HealthPolicy,
    Metrics,
    classify,
    classify_silence,
    health_reason,
    silence_reason,
)
from domain.model import Aggregate
from domain.queue import PoolName
from domain.values import Name, Text

__all__ = [
    "PREFERENCE",
    "TAKES_WORK",
    "Agent",
    "AgentStatus",
    "HostInfo",
    "Labels",
    "Metrics",
    "agent_status",
]


def _canonical(labels: tuple[str, ...]) -> tuple[str, ...]:
    # Sorted and unique, so the same labels always store as the same bytes in the hash chain.
    return tuple(sorted(set(labels)))


Labels = Annotated[tuple[Name, ...], Field(max_length=64), AfterValidator(_canonical)]


class HostInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: Name
    os: Name
    arch: Name
    cpu_count: Annotated[int, Field(ge=1)]
    memory_mb: Annotated[int, Field(ge=1)]


S = AgentStatus
PREFERENCE = {S.HEALTHY: 0, S.DEGRADED: 1}
TAKES_WORK = frozenset(PREFERENCE)
"""Claim order, lower first, of the only statuses that take new work."""


def agent_status(health: AgentStatus, draining: bool, terminated: bool) -> AgentStatus:
    """Terminated, else draining, else its health: an operator's intent outranks heartbeats."""
    if terminated:
        return AgentStatus.TERMINATED
    return AgentStatus.DRAINING if draining else health


class Agent(Aggregate):
    KIND = "agent"
    id: UUID  # lets a command choose the id, so a retried register lands on the same aggregate

    class Registered(Aggregate.Created):
        name: Name
        pool: PoolName
        labels: Labels
        agent_version: Name
        host: HostInfo
        slots: Annotated[int, Field(ge=1)]

    class HealthChanged(Aggregate.Event):
        status: AgentStatus
        reason: Text
        metrics: Metrics | None

    class DrainRequested(Aggregate.Event):
        pass

    class Resumed(Aggregate.Event):
        pass

    class Deregistered(Aggregate.Event):
        reason: Text

    # `agent_version`, not `version`: eventsourcing's `version` counts the aggregate's events.
    @event(Registered)
    def __init__(
        self,
        name: Name,
        pool: PoolName,
        labels: Labels,
        agent_version: Name,
        host: HostInfo,
        slots: int,
    ) -> None:
        self.name = name
        self.pool = pool
        self.labels = frozenset(labels)
        self.agent_version = agent_version
        self.host = host
        self.slots = slots
        self.health = AgentStatus.REGISTERING
        self.metrics: Metrics | None = None
        self.draining = False
        self.terminated = False

    @classmethod
    def register(
        cls,
        agent_id: UUID,
        name: Name,
        pool: PoolName,
        labels: Iterable[str],
        agent_version: Name,
        host: HostInfo,
        slots: int,
    ) -> Agent:
        # eventsourcing takes `id` through its metaclass, which mypy cannot see
        return cls(  # type: ignore[call-arg]
            id=agent_id,
            name=name,
            pool=pool,
            labels=tuple(labels),
            agent_version=agent_version,
            host=host,
            slots=slots,
        )

    @property
    def status(self) -> AgentStatus:
        return agent_status(self.health, self.draining, self.terminated)

    @property
    def can_take_work(self) -> bool:
        return self.status in PREFERENCE

    @property
    def preference(self) -> int:
        """Claim order, lower first: healthy, then degraded, then every agent that takes no work."""
        return PREFERENCE.get(self.status, len(PREFERENCE))

    def observe(self, metrics: Metrics, policy: HealthPolicy) -> None:
        """Judge a heartbeat's metrics; only a change of health is recorded."""
        self._require(self.status is not AgentStatus.TERMINATED, "observe")
        health = classify(metrics, policy)
        if health is not self.health:
            reason = health_reason(metrics, policy)
            self._health_changed(status=health, reason=reason, metrics=metrics)

    def observe_silence(self, seconds_since_last_heartbeat: float, policy: HealthPolicy) -> None:
        """Judge a silence; only a heartbeat brings an offline agent back, so silence never does."""
        self._require(self.status is not AgentStatus.TERMINATED, "observe silence of")
        health = classify_silence(seconds_since_last_heartbeat, policy)
        if health is None or self.health in (health, AgentStatus.OFFLINE):
            return
        reason = silence_reason(seconds_since_last_heartbeat, health, policy)
        self._health_changed(status=health, reason=reason, metrics=None)

    def mark_offline(self, reason: Text) -> None:
        """Record that the agent went away (its heartbeat expired); already offline is no news."""
        self._require(self.status is not AgentStatus.TERMINATED, "mark offline")
        if self.health is not AgentStatus.OFFLINE:
            self._health_changed(status=AgentStatus.OFFLINE, reason=reason, metrics=None)

    def drain(self) -> None:
        """Give the agent no new work; the jobs it runs may finish."""
        self._require(self.status not in (AgentStatus.DRAINING, AgentStatus.TERMINATED), "drain")
        self._drain_requested()

    def resume(self) -> None:
        self._require(self.status is AgentStatus.DRAINING, "resume")
        self._resumed()

    def deregister(self, reason: Text) -> None:
        self._require(self.status is not AgentStatus.TERMINATED, "deregister")
        self._deregistered(reason=reason)

    def _require(self, allowed: bool, action: str) -> None:
        if not allowed:
            self._refuse(action)

    @event(HealthChanged)
    def _health_changed(self, status: AgentStatus, reason: str, metrics: Metrics | None) -> None:
        del reason  # read models show it; decisions do not need it
        self.health = status
        if metrics is not None:  # an agent that went silent keeps its last known load on show
            self.metrics = metrics

    @event(DrainRequested)
    def _drain_requested(self) -> None:
        self.draining = True

    @event(Resumed)
    def _resumed(self) -> None:
        self.draining = False

    @event(Deregistered)
    def _deregistered(self, reason: str) -> None:
        del reason
        self.terminated = True
