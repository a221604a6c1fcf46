"""Queue policies: priorities, pools, retry backoff and claim eligibility."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

PoolName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
"""Pool names become subject tokens and consumer names, so they are kept to a safe alphabet."""
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:=/-]{1,100}$")]


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_ORDER: tuple[Priority, ...] = tuple(Priority)
"""Highest first: a claim asks the levels in this order."""


class FailureClass(StrEnum):
    SCRIPT = "script"
    INFRA = "infra"
    TIMEOUT = "timeout"


class RetryPolicy(BaseModel):
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, then spread by ±jitter."""

    model_config = ConfigDict(frozen=True)

    base_s: Annotated[float, Field(gt=0)] = 1.0
    cap_s: Annotated[float, Field(gt=0)] = 300.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.2

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> RetryPolicy:
        if self.cap_s < self.base_s:
            raise ValueError("cap_s must be at least base_s")
        return self

    def delay_s(self, attempt: int, spread: float) -> float:
        """`spread` in [0, 1) comes from the caller, so the domain stays deterministic."""
        raw = min(self.cap_s, self.base_s * (1 << max(0, attempt - 1)))
        return raw * (1 + self.jitter * (2 * spread - 1))


def eligible(job_labels: frozenset[str], agent_labels: frozenset[str]) -> bool:
    """An agent may run a job only when it has every label the job asks for."""
    return job_labels <= agent_labels


class QueueSpec(BaseModel):
    """How a job waits and runs: where, how urgently, how often, how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: PoolName = "default"
    priority: Priority = Priority.NORMAL
    labels: Annotated[frozenset[Label], Field(max_length=32)] = frozenset()
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    lease_s: Annotated[int, Field(ge=1, le=3600)] = 30
    run_at: AwareDatetime | None = None
    unique_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    command: Annotated[str, StringConstraints(max_length=100_000)] = ""
    timeout_s: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 3600
