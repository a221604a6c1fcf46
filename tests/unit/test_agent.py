"""The Agent aggregate: every status x command, work eligibility, and replay from its events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

import pydantic
import pytest
from eventsourcing.domain import CanMutateAggregate

from domain.agent import Agent, AgentStatus, HostInfo, Metrics
from domain.catalog import EVENT_TYPES
from domain.errors import InvalidTransitionError
from domain.health import HealthPolicy

POLICY = HealthPolicy()
HOST = HostInfo(hostname="build-7", os="linux", arch="arm64", cpu_count=8, memory_mb=16_384)


def load(pct: float) -> Metrics:
    return Metrics(cpu_pct=pct, mem_pct=10, disk_pct=10, running_jobs=1)


def new_agent(slots: int = 2) -> Agent:
    return Agent.register(
        uuid4(), "agent-7", "linux", ["docker", "arm64", "docker"], "1.4.2", HOST, slots
    )


Command = Callable[[Agent], None]
COMMANDS: dict[str, Command] = {
    "observe ok": lambda agent: agent.observe(load(10), POLICY),
    "observe busy": lambda agent: agent.observe(load(90), POLICY),
    "observe overloaded": lambda agent: agent.observe(load(99), POLICY),
    "silence 20s": lambda agent: agent.observe_silence(20, POLICY),
    "silence 30s": lambda agent: agent.observe_silence(30, POLICY),
    "mark offline": lambda agent: agent.mark_offline("heartbeat expired"),
    "drain": Agent.drain,
    "resume": Agent.resume,
    "deregister": lambda agent: agent.deregister("host retired"),
}
SETUP: dict[AgentStatus, Sequence[str]] = {
    AgentStatus.REGISTERING: (),
    AgentStatus.HEALTHY: ("observe ok",),
    AgentStatus.DEGRADED: ("observe busy",),
    AgentStatus.UNHEALTHY: ("observe overloaded",),
    AgentStatus.OFFLINE: ("observe ok", "mark offline"),
    AgentStatus.DRAINING: ("observe ok", "drain"),
    AgentStatus.TERMINATED: ("deregister",),
}

RG, HE, DG, UN, OF, DR, TE = (
    AgentStatus.REGISTERING,
    AgentStatus.HEALTHY,
    AgentStatus.DEGRADED,
    AgentStatus.UNHEALTHY,
    AgentStatus.OFFLINE,
    AgentStatus.DRAINING,
    AgentStatus.TERMINATED,
)
HC, DRQ, RES, DEREG = "HealthChanged", "DrainRequested", "Resumed", "Deregistered"
Outcome = tuple[AgentStatus, str] | None
"""The status after the command and the event it recorded ("": none); None: refused."""
X: Outcome = None

# One row per status, one column per command, in the order of COMMANDS.
MATRIX: dict[AgentStatus, tuple[Outcome, ...]] = {
    RG: ((HE, HC), (DG, HC), (UN, HC), (UN, HC), (OF, HC), (OF, HC), (DR, DRQ), X, (TE, DEREG)),
    HE: ((HE, ""), (DG, HC), (UN, HC), (UN, HC), (OF, HC), (OF, HC), (DR, DRQ), X, (TE, DEREG)),
    DG: ((HE, HC), (DG, ""), (UN, HC), (UN, HC), (OF, HC), (OF, HC), (DR, DRQ), X, (TE, DEREG)),
    UN: ((HE, HC), (DG, HC), (UN, ""), (UN, ""), (OF, HC), (OF, HC), (DR, DRQ), X, (TE, DEREG)),
    OF: ((HE, HC), (DG, HC), (UN, HC), (OF, ""), (OF, ""), (OF, ""), (DR, DRQ), X, (TE, DEREG)),
    DR: ((DR, ""), (DR, HC), (DR, HC), (DR, HC), (DR, HC), (DR, HC), X, (HE, RES), (TE, DEREG)),
    TE: (X, X, X, X, X, X, X, X, X),
}
CASES = [
    pytest.param(status, command, outcome, id=f"{status}-{command}")
    for status, row in MATRIX.items()
    for command, outcome in zip(COMMANDS, row, strict=True)
]


def agent_in(status: AgentStatus) -> Agent:
    agent = new_agent()
    for command in SETUP[status]:
        COMMANDS[command](agent)
    agent.collect_events()
    assert agent.status is status
    return agent


def names(events: Sequence[object]) -> list[str]:
    return [type(event).__name__ for event in events]


def replay(events: Sequence[CanMutateAggregate[UUID]]) -> Agent:
    agent: Agent | None = None
    for domain_event in events:
        agent = domain_event.mutate(agent)
    assert isinstance(agent, Agent)
    return agent


def test_matrix_covers_every_status() -> None:
    assert set(MATRIX) == set(AgentStatus)


@pytest.mark.parametrize(("status", "command", "outcome"), CASES)
def test_command_moves_or_is_refused_when_agent_is_in_status(
    status: AgentStatus, command: str, outcome: Outcome
) -> None:
    agent = agent_in(status)
    if outcome is None:
        with pytest.raises(InvalidTransitionError, match=f"in status {status}$") as refused:
            COMMANDS[command](agent)
        assert (refused.value.status, refused.value.kind) == (status, "agent")
        assert (agent.status, agent.collect_events()) == (status, [])
        return
    COMMANDS[command](agent)
    after, recorded = outcome
    assert agent.status is after
    assert names(agent.collect_events()) == ([recorded] if recorded else [])


def test_registration_records_its_facts_with_canonical_labels() -> None:
    agent = new_agent(slots=3)
    (registered,) = agent.collect_events()
    assert isinstance(registered, Agent.Registered)
    assert registered.labels == ("arm64", "docker")
    assert (agent.name, agent.pool, agent.agent_version, agent.slots) == (
        "agent-7",
        "linux",
        "1.4.2",
        3,
    )
    assert (agent.labels, agent.host, agent.metrics) == (frozenset({"arm64", "docker"}), HOST, None)


@pytest.mark.parametrize("slots", [0, -1])
def test_registration_is_refused_when_slots_are_below_one(slots: int) -> None:
    with pytest.raises(pydantic.ValidationError, match="slots"):
        new_agent(slots=slots)


@pytest.mark.parametrize(("status", "expected"), [(s, s in {HE, DG}) for s in AgentStatus])
def test_only_healthy_and_degraded_agents_take_work(status: AgentStatus, expected: bool) -> None:
    assert agent_in(status).can_take_work is expected


def test_healthy_agents_are_preferred_to_degraded_ones_and_both_to_the_rest() -> None:
    ranks = {status: agent_in(status).preference for status in AgentStatus}
    assert ranks[HE] < ranks[DG]
    assert all(ranks[DG] < rank for status, rank in ranks.items() if status not in {HE, DG})


def test_health_change_names_each_threshold_crossed_and_keeps_the_metrics() -> None:
    agent = agent_in(HE)
    metrics = Metrics(cpu_pct=88, mem_pct=30, disk_pct=96.5, running_jobs=2)
    agent.observe(metrics, POLICY)
    (changed,) = agent.collect_events()
    assert isinstance(changed, Agent.HealthChanged)
    reason = "disk at 96.5% (unhealthy from 95%); cpu at 88% (degraded from 85%)"
    assert (changed.status, changed.reason, changed.metrics) == (UN, reason, metrics)
    assert agent.metrics == metrics


@pytest.mark.parametrize("start", [RG, DG, UN])
def test_a_healthy_agent_has_no_reason(start: AgentStatus) -> None:
    agent = agent_in(start)
    agent.observe(Metrics(cpu_pct=20, mem_pct=84.9, disk_pct=22.8, running_jobs=0), POLICY)
    (changed,) = agent.collect_events()
    assert isinstance(changed, Agent.HealthChanged)
    assert (changed.status, changed.reason) == (HE, "")


def test_silence_keeps_the_last_known_metrics_and_names_the_limit_passed() -> None:
    agent = agent_in(HE)
    agent.observe_silence(25, POLICY)
    (changed,) = agent.collect_events()
    assert isinstance(changed, Agent.HealthChanged)
    reason = "no heartbeat for 25s (unhealthy after 2 missed heartbeats of 10s)"
    assert (changed.reason, changed.metrics) == (reason, None)
    assert agent.metrics == load(10)


def test_resume_returns_a_drained_agent_to_the_health_observed_meanwhile() -> None:
    agent = agent_in(DR)
    agent.observe(load(99), POLICY)
    agent.resume()
    assert (agent.status, agent.can_take_work) == (UN, False)
    agent.observe(load(10), POLICY)
    assert (agent.status, agent.can_take_work) == (HE, True)


def test_replay_rebuilds_the_same_agent() -> None:
    agent = new_agent()
    for command in ("observe busy", "drain", "silence 30s", "observe ok", "resume", "deregister"):
        COMMANDS[command](agent)
    events = agent.collect_events()
    rebuilt = replay(events)
    assert names(events) == ["Registered", HC, DRQ, HC, HC, RES, DEREG]
    assert (rebuilt.status, rebuilt.health, rebuilt.draining) == (TE, HE, False)
    assert (rebuilt.metrics, rebuilt.labels, rebuilt.version) == (load(10), agent.labels, 7)


def test_agent_events_are_in_the_catalog() -> None:
    for name in ("Registered", HC, DRQ, RES, DEREG):
        assert EVENT_TYPES[f"agent.{name}"] is getattr(Agent, name)
