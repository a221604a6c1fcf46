"""AgentBoard and PoolBoard fed with events that real domain commands recorded; a snapshot taken
anywhere in the log, restored and fed the rest, reads the same as the whole replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson
import pytest

from domain.agent import Agent, AgentStatus, HostInfo, Metrics
from domain.health import HealthPolicy
from domain.job import Job
from domain.job_status import JobStatus
from domain.pool import Pool, pool_id
from domain.queue import FailureClass, QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.agents import AgentBoard, PoolBoard
from tests.conftest import Recorder

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOST = HostInfo(hostname="build-1", os="linux", arch="x86_64", cpu_count=4, memory_mb=8192)
GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")
POLICY = HealthPolicy()
S = AgentStatus


def load(cpu: float) -> Metrics:
    return Metrics(cpu_pct=cpu, mem_pct=10, disk_pct=10, running_jobs=0)


class Story:
    """Records agents, jobs and pools one second apart, as the event store would number them."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.clock = 0

    def record(self, aggregate: Agent | Job | Pool) -> None:
        self.clock += 1
        self.rec.record(aggregate, T0 + timedelta(seconds=self.clock))

    def agent(self, name: str, pool: str, labels: tuple[str, ...] = ()) -> Agent:
        agent = Agent.register(uuid4(), name, pool, labels, "1.0", HOST, 2)
        self.record(agent)
        return agent

    def job(self, claimed_by: Agent) -> Job:
        job = Job.create(uuid4(), "build", GIT, {})
        job.queue(QueueSpec(pool=claimed_by.pool))
        job.claim(str(claimed_by.id), f"ack.{job.id}")
        self.record(job)
        return job


def story() -> tuple[list[RecordedEvent], dict[str, Agent], dict[str, Job]]:
    """linux: `busy` degraded, drained and resumed, holding `held`; `idle` healthy; `gone`
    deregistered. gpu: `silent` offline. Pools linux (limits changed, paused) and gpu."""
    s = Story()
    busy, idle = s.agent("busy", "linux", ("docker", "arm64")), s.agent("idle", "linux")
    silent, gone = s.agent("silent", "gpu", ("cuda",)), s.agent("gone", "linux")
    for agent, cpu in ((busy, 90), (idle, 10), (silent, 10)):
        agent.observe(load(cpu), POLICY)
        s.record(agent)
    busy.drain()
    s.record(busy)
    done, lost, stopped, held = s.job(busy), s.job(busy), s.job(busy), s.job(busy)
    done.start(str(busy.id))
    done.complete(JobStatus.SUCCESS, exit_code=0)
    lost.lose_attempt("agent lost", T0)
    lost.cancel("gave up")  # the agent that lost it may still be running it
    stopped.cancel("not needed")
    for change in (done, lost, stopped):
        s.record(change)
    busy.resume()
    silent.observe_silence(25, POLICY)
    silent.mark_offline("heartbeat expired")
    gone.deregister("host retired")
    for agent in (busy, silent, gone):
        s.record(agent)
    linux = Pool.create(pool_id("linux"), "linux", 0, 10, ["docker"])
    gpu = Pool.create(pool_id("gpu"), "gpu", 1, 2, [])
    linux.change_limits(2, 8)
    linux.pause("maintenance")
    gpu.pause("quota")
    gpu.resume()
    for pool in (linux, gpu):
        s.record(pool)
    agents = {a.name: a for a in (busy, idle, silent, gone)}
    return s.rec.log, agents, {"done": done, "lost": lost, "stopped": stopped, "held": held}


LOG, AGENTS, JOBS = story()


def fed(board: Any, log: list[RecordedEvent]) -> Any:
    for recorded in log:
        board.apply(recorded)
    return board


def agent_ids(*names: str) -> list[str]:
    return [str(AGENTS[name].id) for name in names]


def job_ids(*names: str) -> list[str]:
    return [str(JOBS[name].id) for name in names]


@pytest.fixture
def agents() -> AgentBoard:
    board: AgentBoard = fed(AgentBoard(), LOG)
    return board


def test_agent_view_keeps_health_drain_and_termination_apart(agents: AgentBoard) -> None:
    busy = agents.get(str(AGENTS["busy"].id))
    assert busy is not None
    assert (busy.status, busy.health, busy.draining) == (S.DEGRADED, S.DEGRADED, False)
    assert (busy.health_reason, busy.metrics) == ("cpu at 90% (degraded from 85%)", load(90))
    assert (busy.labels, busy.registered_at) == (("arm64", "docker"), T0 + timedelta(seconds=1))
    silent = agents.get(str(AGENTS["silent"].id))
    assert silent is not None
    assert (silent.status, silent.health_reason) == (S.OFFLINE, "heartbeat expired")
    assert silent.metrics == load(10)  # the last known load stays on show
    gone = agents.get(str(AGENTS["gone"].id))
    assert gone is not None
    assert (gone.status, gone.health, gone.terminated) == (S.TERMINATED, S.REGISTERING, True)


@pytest.mark.parametrize(
    ("pool", "status", "label", "expected"),
    [
        (None, None, None, ["busy", "idle", "silent", "gone"]),
        ("linux", None, None, ["busy", "idle", "gone"]),
        (None, S.OFFLINE, None, ["silent"]),
        (None, None, "docker", ["busy"]),
        ("gpu", S.HEALTHY, None, []),
    ],
)
def test_select_filters_in_registration_order(
    agents: AgentBoard, pool: str | None, status: S | None, label: str | None, expected: list[str]
) -> None:
    assert [a.name for a in agents.select(pool, status, label)] == expected


def test_jobs_of_counts_only_leased_jobs_as_current(agents: AgentBoard) -> None:
    current, recent = agents.jobs_of(str(AGENTS["busy"].id))
    assert (current, recent) == (job_ids("held"), job_ids("held", "stopped", "lost", "done"))
    assert agents.jobs_of(str(AGENTS["idle"].id)) == ([], [])


def test_counts_and_idle_busy(agents: AgentBoard) -> None:
    assert agents.counts() == {
        "gpu": {S.OFFLINE: 1},
        "linux": {S.DEGRADED: 1, S.HEALTHY: 1, S.TERMINATED: 1},
    }
    assert (agents.idle_and_busy("linux"), agents.idle_and_busy("gpu")) == ((1, 1), (0, 0))


def test_events_of_an_agent_never_registered_are_ignored() -> None:
    without_registrations = [r for r in LOG if r.type != "agent.Registered"]
    assert fed(AgentBoard(), without_registrations).agents == {}


def test_pool_board_follows_limits_and_pauses() -> None:
    pools: PoolBoard = fed(PoolBoard(), LOG)
    linux, gpu = pools.pools["linux"], pools.pools["gpu"]
    assert (linux.min_agents, linux.max_agents, linux.labels) == (2, 8, ("docker",))
    assert (linux.paused, linux.pause_reason) == (True, "maintenance")
    assert (gpu.paused, gpu.pause_reason) == (False, "")
    assert [pools.paused(name) for name in ("linux", "gpu", "nowhere")] == [True, False, False]


def test_pool_board_lists_every_pool_in_use_with_defaults_for_undeclared_ones() -> None:
    s = Story()
    s.agent("mac-1", "mac")
    nightly = Job.create(uuid4(), "build", GIT, {}, QueueSpec(pool="nightly"))
    s.record(nightly)
    pools: PoolBoard = fed(PoolBoard(), LOG + s.rec.log)
    listed = {p.name: (p.min_agents, p.max_agents, p.paused) for p in pools.listing()}
    assert listed == {
        "default": (0, 10, False),
        "gpu": (1, 2, False),
        "linux": (2, 8, True),
        "mac": (0, 10, False),
        "nightly": (0, 10, False),
    }
    assert pools.get("nightly") == pools.listing()[-1]
    assert pools.get("nowhere") is None


def agent_reads(board: AgentBoard) -> Any:
    """Everything AgentBoard answers, in a comparable form."""
    return (
        {a: board.get(a) for a in agent_ids(*AGENTS)},
        {a: board.jobs_of(a) for a in agent_ids(*AGENTS)},
        {a: board.cancelled_of(a) for a in agent_ids(*AGENTS)},
        board.counts(),
        [board.idle_and_busy(pool) for pool in ("linux", "gpu")],
        orjson.dumps(board.dump()),
    )


def pool_reads(board: PoolBoard) -> Any:
    return board.listing(), orjson.dumps(board.dump())


BOARDS = [
    pytest.param(AgentBoard, agent_reads, id="agents"),
    pytest.param(PoolBoard, pool_reads, id="pools"),
]


@pytest.mark.parametrize("cut", range(len(LOG) + 1))
@pytest.mark.parametrize(("model", "reads"), BOARDS)
def test_snapshot_anywhere_then_tail_reads_like_a_full_replay(
    model: type[AgentBoard | PoolBoard], reads: Any, cut: int
) -> None:
    restored = model()
    restored.restore(orjson.loads(orjson.dumps(fed(model(), LOG[:cut]).dump())))
    assert reads(fed(restored, LOG[cut:])) == reads(fed(model(), LOG))


def test_a_job_cancelled_after_an_agent_claimed_it_is_named_for_that_agent_only(
    agents: AgentBoard,
) -> None:
    busy, idle = agent_ids("busy", "idle")
    assert agents.cancelled_of(busy) == frozenset(job_ids("stopped", "lost"))
    assert agents.cancelled_of(idle) == frozenset()
    assert job_ids("stopped")[0] not in agents.jobs_of(busy)[0]


def test_an_agent_is_no_longer_named_for_a_job_that_ended_dead_lettered() -> None:
    """A job remembers who claimed it until it ends: completed, or dead-lettered (the board
    would otherwise keep every dead letter of history)."""
    s = Story()
    agent = s.agent("a", "linux")
    job = s.job(agent)
    job.fail("exit 2", FailureClass.SCRIPT, False, 2, T0)
    s.record(job)
    board = AgentBoard()
    for recorded in s.rec.log:
        board.apply(recorded)
    assert job.status is JobStatus.DEAD_LETTERED
    assert str(job.id) not in board.claimed_by
    assert board.jobs_of(str(agent.id))[0] == []
