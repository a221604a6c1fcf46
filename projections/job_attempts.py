"""A job's attempts, each with its own agent, times and outcome.

An attempt opens when a job is claimed (or, for a job reported through the dashboard, when it
starts) and closes with the event that ends it. A released attempt costs nothing, so the next
claim carries the same number: the list then holds that number twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class AttemptOutcome(StrEnum):
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    ERROR = "error"
    LOST = "lost"
    """The lease ran out or the agent went away; the attempt counts."""
    RELEASED = "released"
    """The agent gave the job back unrun (or stopped it); the attempt does not count."""


OPEN = frozenset({AttemptOutcome.CLAIMED, AttemptOutcome.RUNNING})
_OUTCOMES = {outcome.value: outcome for outcome in AttemptOutcome}


class AttemptView(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    agent_id: str | None
    outcome: AttemptOutcome
    claimed_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    """From its start (its claim, when it never reported one) to its end."""
    exit_code: int | None = None
    reason: str = ""


@dataclass(slots=True)
class Attempt:
    """An AttemptView as the board keeps it: changed in place. A unit test keeps the fields of
    the two in step."""

    number: int
    agent_id: str | None
    outcome: AttemptOutcome
    claimed_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    reason: str = ""

    @property
    def open(self) -> bool:
        return self.outcome in OPEN

    def start(self, agent_id: str | None, at: datetime) -> None:
        self.agent_id = agent_id or self.agent_id
        self.started_at = at
        self.outcome = AttemptOutcome.RUNNING

    def close(
        self, outcome: AttemptOutcome, at: datetime, exit_code: int | None, reason: str
    ) -> None:
        began = self.started_at or self.claimed_at
        self.outcome, self.finished_at = outcome, at
        self.duration_s = (at - began).total_seconds() if began else None
        self.exit_code, self.reason = exit_code, reason

    def view(self) -> AttemptView:
        return AttemptView(**{name: getattr(self, name) for name in self.__slots__})

    def pack(self) -> list[Any]:
        """For snapshots: positional, in slot order; orjson writes the datetimes."""
        return [getattr(self, name) for name in self.__slots__]

    @classmethod
    def unpack(cls, packed: list[Any]) -> Attempt:
        number, agent_id, outcome, *times, duration_s, exit_code, reason = packed
        claimed, started, finished = (
            None if t is None else datetime.fromisoformat(t) for t in times
        )
        return cls(
            number,
            agent_id,
            _OUTCOMES[outcome],
            claimed,
            started,
            finished,
            duration_s,
            exit_code,
            reason,
        )


def current(attempts: list[Attempt]) -> Attempt | None:
    """The attempt still running, if any."""
    if attempts and attempts[-1].open:
        return attempts[-1]
    return None
