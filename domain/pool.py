"""The Pool aggregate: a named group of agents, bounds on their number, and its scaling signal."""

from __future__ import annotations

from collections.abc import Iterable
from math import ceil
from typing import Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.agent import Labels
from domain.errors import ValidationError
from domain.model import Aggregate
from domain.values import Name


def _check_limits(min_agents: int, max_agents: int) -> None:
    if not 0 <= min_agents <= max_agents:
        raise ValidationError(
            f"pool limits need 0 <= min_agents <= max_agents, got {min_agents} and {max_agents}"
        )


DEFAULT_MAX_AGENTS = 10
"""The upper bound of a pool used before anyone declared it (the `default` pool, say)."""


def pool_id(name: str) -> UUID:
    """Pools are named by people and by jobs; the id follows from the name."""
    return uuid5(NAMESPACE_URL, f"jetdeck:pool:{name}")


class Pool(Aggregate):
    KIND = "pool"
    id: UUID  # lets a command choose the id, so a retried create lands on the same aggregate

    class Created(Aggregate.Created):
        name: Name
        min_agents: int
        max_agents: int
        labels: Labels

    class LimitsChanged(Aggregate.Event):
        min_agents: int
        max_agents: int

    class Paused(Aggregate.Event):
        reason: str

    class Resumed(Aggregate.Event):
        pass

    @event(Created)
    def __init__(self, name: Name, min_agents: int, max_agents: int, labels: Labels) -> None:
        self.name = name
        self.min_agents = min_agents
        self.max_agents = max_agents
        self.labels = frozenset(labels)
        self.paused = False

    @classmethod
    def create(
        cls, pool_id: UUID, name: Name, min_agents: int, max_agents: int, labels: Iterable[str]
    ) -> Pool:
        _check_limits(min_agents, max_agents)
        # eventsourcing takes `id` through its metaclass, which mypy cannot see
        return cls(  # type: ignore[call-arg]
            id=pool_id,
            name=name,
            min_agents=min_agents,
            max_agents=max_agents,
            labels=tuple(labels),
        )

    def change_limits(self, min_agents: int, max_agents: int) -> None:
        """Set both bounds; setting the ones already in force records nothing."""
        _check_limits(min_agents, max_agents)
        if (min_agents, max_agents) != (self.min_agents, self.max_agents):
            self._limits_changed(min_agents=min_agents, max_agents=max_agents)

    def pause(self, reason: str) -> None:
        """A paused pool hands out no work; pausing a paused pool records nothing."""
        if not self.paused:
            self._paused(reason=reason)

    def resume(self) -> None:
        if self.paused:
            self._resumed()

    @event(Paused)
    def _paused(self, reason: str) -> None:
        del reason
        self.paused = True

    @event(Resumed)
    def _resumed(self) -> None:
        self.paused = False

    @event(LimitsChanged)
    def _limits_changed(self, min_agents: int, max_agents: int) -> None:
        self.min_agents = min_agents
        self.max_agents = max_agents


class Limits(Protocol):
    @property
    def min_agents(self) -> int: ...
    @property
    def max_agents(self) -> int: ...


def desired_agents(
    pool: Limits,
    idle: int,
    busy: int,
    queue_depth: int,
    oldest_wait_s: float,
    jobs_per_agent: int = 1,
    patience_s: float = 30.0,
) -> int:
    """busy + ceil(queue/jobs_per_agent), capped at busy + idle before patience_s, in [min, max]."""
    if jobs_per_agent < 1:
        raise ValidationError(f"jobs_per_agent must be at least 1, got {jobs_per_agent}")
    for_queue = ceil(queue_depth / jobs_per_agent)
    if oldest_wait_s < patience_s:  # a young queue is for idle agents; a new agent takes minutes
        for_queue = min(for_queue, idle)
    return max(pool.min_agents, min(pool.max_agents, busy + for_queue))
