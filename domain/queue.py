"""Queue policies: priorities, pools, retry backoff and claim eligibility."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
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
DEFAULT_POOL = "default"
"""Where jobs and agents go when they name no pool; always in use."""


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


MAX_ATTEMPTS = 100
ExitStatus = Annotated[int, Field(ge=1, le=255)]
"""A failing process's exit status as a shell reports it (signals as 128 + N)."""


def _sorted_unique(codes: tuple[int, ...]) -> tuple[int, ...]:
    # Canonical, so the same rule always stores as the same bytes in the hash chain.
    return tuple(sorted(set(codes)))


class RetryRule(BaseModel):
    """Run a job again when its command exits with one of `exit_codes` (Buildkite's automatic
    retry): a flaky test's exit code, say. Any other non-zero exit ends the job `failed`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exit_codes: Annotated[
        tuple[ExitStatus, ...], Field(min_length=1, max_length=32), AfterValidator(_sorted_unique)
    ]
    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS)] | None = Field(
        default=None,
        description="Attempts in all (the first included) while the exit code matches; the "
        "job's max_attempts when omitted.",
    )

    def covers(self, exit_code: int | None) -> bool:
        return exit_code in self.exit_codes


class QueueSpec(BaseModel):
    """How a job waits and runs: where, how urgently, how often, how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: PoolName = DEFAULT_POOL
    priority: Priority = Priority.NORMAL
    labels: Annotated[frozenset[Label], Field(max_length=32)] = frozenset()
    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS)] = 3
    """Attempts in all for lost leases and reported failures; the retry rule has its own."""
    lease_s: Annotated[int, Field(ge=1, le=3600)] = 30
    run_at: AwareDatetime | None = None
    unique_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    command: Annotated[str, StringConstraints(max_length=100_000)] = ""
    timeout_s: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 3600
    retry: RetryRule | None = None

    def attempt_limit(self, exit_code: int | None) -> int:
        """How many attempts a failure with this exit code may reach: the retry rule's own
        limit when the rule covers the code, else the job's."""
        if self.retry is None or not self.retry.covers(exit_code):
            return self.max_attempts
        return self.retry.max_attempts or self.max_attempts
