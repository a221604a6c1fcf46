"""Agent health: the statuses, the metrics a heartbeat carries, and the thresholds that judge them.

`AgentStatus` and `Metrics` live here, not in `domain.agent`, because judging them needs no
aggregate while the aggregate needs the judge; `domain.agent` re-exports both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AgentStatus(StrEnum):
    REGISTERING = "registering"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    OFFLINE = "offline"
    DRAINING = "draining"
    TERMINATED = "terminated"


Percent = Annotated[float, Field(ge=0, le=100)]


class Metrics(BaseModel):
    """What the agent's host reported in one heartbeat."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_pct: Percent
    mem_pct: Percent
    disk_pct: Percent
    running_jobs: Annotated[int, Field(ge=0)]

    def loads(self) -> tuple[tuple[str, float], ...]:
        return (("cpu", self.cpu_pct), ("mem", self.mem_pct), ("disk", self.disk_pct))

    def peak(self) -> tuple[str, float]:
        """The most loaded resource and its load: one full resource is enough to hurt a build."""
        return max(self.loads(), key=lambda load: load[1])


class HealthPolicy(BaseModel):
    """Thresholds; a threshold counts as reached at its value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    degraded_pct: Annotated[float, Field(gt=0, le=100)] = 85.0
    unhealthy_pct: Annotated[float, Field(gt=0, le=100)] = 95.0
    heartbeat_interval_s: Annotated[float, Field(gt=0)] = 10.0
    missed_heartbeats_unhealthy: Annotated[int, Field(gt=0)] = 2
    offline_after_intervals: Annotated[int, Field(gt=0)] = 3

    @model_validator(mode="after")
    def _escalates(self) -> Self:
        # Out of order, a level could never be reached: its stricter neighbour would win first.
        if self.degraded_pct >= self.unhealthy_pct:
            raise ValueError("degraded_pct must be below unhealthy_pct")
        if self.missed_heartbeats_unhealthy >= self.offline_after_intervals:
            raise ValueError("missed_heartbeats_unhealthy must be below offline_after_intervals")
        return self


def classify(metrics: Metrics, policy: HealthPolicy) -> AgentStatus:
    """Healthy, degraded or unhealthy by the most loaded of cpu, memory and disk."""
    _, load = metrics.peak()
    if load >= policy.unhealthy_pct:
        return AgentStatus.UNHEALTHY
    if load >= policy.degraded_pct:
        return AgentStatus.DEGRADED
    return AgentStatus.HEALTHY


def health_reason(metrics: Metrics, policy: HealthPolicy) -> str:
    """Empty when healthy; else each resource at or past a threshold, the worst first, with the
    threshold it reached: "disk at 96% (unhealthy from 95%); cpu at 90% (degraded from 85%)"."""
    crossed = []
    for resource, load in sorted(metrics.loads(), key=lambda item: -item[1]):
        if load >= policy.unhealthy_pct:
            crossed.append(f"{resource} at {load:g}% (unhealthy from {policy.unhealthy_pct:g}%)")
        elif load >= policy.degraded_pct:
            crossed.append(f"{resource} at {load:g}% (degraded from {policy.degraded_pct:g}%)")
    return "; ".join(crossed)


def silence_reason(seconds: float, health: AgentStatus, policy: HealthPolicy) -> str:
    """The silence and the limit it passed, in heartbeat intervals."""
    intervals = (
        policy.offline_after_intervals
        if health is AgentStatus.OFFLINE
        else policy.missed_heartbeats_unhealthy
    )
    return (
        f"no heartbeat for {seconds:g}s ({health} after {intervals} missed heartbeats "
        f"of {policy.heartbeat_interval_s:g}s)"
    )


def classify_silence(
    seconds_since_last_heartbeat: float, policy: HealthPolicy
) -> AgentStatus | None:
    """Unhealthy after the allowed missed heartbeats, offline later; None while still in time."""
    intervals = seconds_since_last_heartbeat / policy.heartbeat_interval_s
    if intervals >= policy.offline_after_intervals:
        return AgentStatus.OFFLINE
    if intervals >= policy.missed_heartbeats_unhealthy:
        return AgentStatus.UNHEALTHY
    return None
