"""The Pool aggregate's limits and the scaling signal they clamp."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.catalog import EVENT_TYPES
from domain.errors import ValidationError
from domain.pool import Pool, desired_agents


def new_pool(min_agents: int = 1, max_agents: int = 5) -> Pool:
    return Pool.create(uuid4(), "linux", min_agents, max_agents, ["x86", "docker", "x86"])


def test_creation_records_limits_and_canonical_labels() -> None:
    pool = new_pool(min_agents=2, max_agents=4)
    (created,) = pool.collect_events()
    assert isinstance(created, Pool.Created)
    assert created.labels == ("docker", "x86")
    assert (pool.name, pool.min_agents, pool.max_agents) == ("linux", 2, 4)
    assert pool.labels == frozenset({"docker", "x86"})


@pytest.mark.parametrize(("min_agents", "max_agents"), [(0, 0), (3, 3), (0, 100)])
def test_limits_are_accepted_when_ordered_from_zero(min_agents: int, max_agents: int) -> None:
    pool = new_pool(min_agents, max_agents)
    pool.change_limits(max_agents, max_agents + 1)
    assert (pool.min_agents, pool.max_agents) == (max_agents, max_agents + 1)


INVALID_LIMITS = [(-1, 3), (4, 3), (-2, -1), (1, 0)]


@pytest.mark.parametrize(("min_agents", "max_agents"), INVALID_LIMITS)
def test_creation_is_refused_when_limits_are_out_of_order(min_agents: int, max_agents: int) -> None:
    with pytest.raises(ValidationError, match=f"got {min_agents} and {max_agents}"):
        new_pool(min_agents, max_agents)


@pytest.mark.parametrize(("min_agents", "max_agents"), INVALID_LIMITS)
def test_limit_change_is_refused_and_records_nothing_when_out_of_order(
    min_agents: int, max_agents: int
) -> None:
    pool = new_pool(1, 5)
    pool.collect_events()
    with pytest.raises(ValidationError, match=f"got {min_agents} and {max_agents}"):
        pool.change_limits(min_agents, max_agents)
    assert ((pool.min_agents, pool.max_agents), pool.collect_events()) == ((1, 5), [])


def test_limit_change_records_an_event_only_when_the_limits_differ() -> None:
    pool = new_pool(1, 5)
    pool.collect_events()
    pool.change_limits(1, 5)
    assert pool.collect_events() == []
    pool.change_limits(1, 8)
    (changed,) = pool.collect_events()
    assert isinstance(changed, Pool.LimitsChanged)
    assert (changed.min_agents, changed.max_agents) == (1, 8)


def test_replay_rebuilds_the_latest_limits() -> None:
    pool = new_pool(1, 5)
    pool.change_limits(2, 9)
    rebuilt: Pool | None = None
    for domain_event in pool.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert isinstance(rebuilt, Pool)
    assert (rebuilt.min_agents, rebuilt.max_agents, rebuilt.version) == (2, 9, 2)


@pytest.mark.parametrize(
    ("idle", "busy", "queue_depth", "oldest_wait_s", "jobs_per_agent", "expected"),
    [
        pytest.param(0, 0, 0, 0, 1, 2, id="no demand: clamped up to min"),
        pytest.param(4, 3, 0, 0, 1, 3, id="empty queue: idle agents are surplus"),
        pytest.param(0, 3, 2, 30, 1, 5, id="old queue: one agent per job"),
        pytest.param(0, 3, 5, 30, 2, 6, id="old queue: ceil of jobs per agent"),
        pytest.param(0, 3, 4, 30, 2, 5, id="old queue: exact multiple"),
        pytest.param(0, 8, 50, 600, 1, 10, id="clamped down to max"),
        pytest.param(1, 3, 4, 29.9, 1, 4, id="young queue: only idle agents count"),
        pytest.param(6, 3, 4, 29.9, 1, 7, id="young queue: idle beyond the queue are surplus"),
        pytest.param(1, 3, 4, 30, 1, 7, id="queue reached patience: new agents wanted"),
    ],
)
def test_desired_agents_follows_demand_within_the_pool_limits(
    idle: int, busy: int, queue_depth: int, oldest_wait_s: float, jobs_per_agent: int, expected: int
) -> None:
    pool = new_pool(min_agents=2, max_agents=10)
    desired = desired_agents(pool, idle, busy, queue_depth, oldest_wait_s, jobs_per_agent)
    assert desired == expected


def test_desired_agents_patience_is_configurable() -> None:
    pool = new_pool(min_agents=0, max_agents=10)
    assert desired_agents(pool, 0, 1, 3, oldest_wait_s=5, patience_s=0) == 4
    assert desired_agents(pool, 0, 1, 3, oldest_wait_s=5, patience_s=60) == 1


@pytest.mark.parametrize("jobs_per_agent", [0, -1])
def test_desired_agents_is_refused_when_jobs_per_agent_is_below_one(jobs_per_agent: int) -> None:
    with pytest.raises(ValidationError, match="jobs_per_agent"):
        desired_agents(new_pool(), 0, 0, 1, 0, jobs_per_agent)


def test_pool_events_are_in_the_catalog() -> None:
    assert EVENT_TYPES["pool.Created"] is Pool.Created
    assert EVENT_TYPES["pool.LimitsChanged"] is Pool.LimitsChanged
