"""Why a job waits, from the boards themselves: the queue board keeps each queued job's ticket
and backoff, and `situation` reads what the answer needs from the four boards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import orjson

from domain.agent import Agent, HostInfo, Metrics
from domain.health import HealthPolicy
from domain.job import Job
from domain.queue import FailureClass, QueueSpec
from domain.recorded import RecordedEvent
from projections.agents import AgentBoard, PoolBoard
from projections.jobs import JobBoard
from projections.queue import QueueBoard
from projections.waiting import Situation, WaitReason, situation
from projections.why_waiting import explain
from tests.conftest import Recorder
from tests.queue_helpers import GIT

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
RETRY_AT = T0 + timedelta(minutes=2)
HOST = HostInfo(hostname="build-1", os="linux", arch="x86_64", cpu_count=4, memory_mb=8192)
CALM = Metrics(cpu_pct=5, mem_pct=5, disk_pct=5, running_jobs=0)


class World:
    """Events recorded as the event store would number them, fed to all four boards."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.jobs, self.queue = JobBoard(), QueueBoard()
        self.agents, self.pools = AgentBoard(), PoolBoard()

    def record(self, aggregate: Agent | Job) -> None:
        for recorded in self.rec.record(aggregate, T0):
            self.feed(recorded)

    def feed(self, recorded: RecordedEvent) -> None:
        for board in (self.jobs, self.queue, self.agents, self.pools):
            if recorded.kind in board.kinds:
                board.apply(recorded)

    def agent(self, name: str) -> Agent:
        agent = Agent.register(uuid4(), name, "default", (), "1.0", HOST, 1)
        agent.observe(CALM, HealthPolicy())
        self.record(agent)
        return agent

    def job(self) -> Job:
        job = Job.create(uuid4(), "build", GIT, {}, QueueSpec())
        self.record(job)
        return job

    def situation(self, job: Job) -> Situation | None:
        return situation(str(job.id), self.jobs, self.queue, self.agents, self.pools)


def failed(world: World, job: Job, agent: Agent) -> None:
    job.claim(str(agent.id), f"ack.{job.id}")
    job.fail("exit 1", FailureClass.SCRIPT, True, 1, RETRY_AT)
    world.record(job)


def test_a_failed_job_backs_off_then_keeps_its_ticket_ahead_of_later_jobs() -> None:
    world = World()
    agent = world.agent("a1")
    first, second = world.job(), world.job()
    failed(world, first, agent)
    state = world.situation(first)
    assert state is not None
    assert state.retry_at == RETRY_AT
    backing_off = explain(state, RETRY_AT - timedelta(seconds=1))
    assert backing_off.reason is WaitReason.BACKING_OFF
    second_state = world.situation(second)
    assert second_state is not None
    facts = explain(second_state, T0).facts
    assert facts is not None
    assert facts.place is not None
    assert facts.place.position == 1  # the one backing off is not due: not ahead of it
    due = explain(state, RETRY_AT).facts
    assert due is not None
    assert due.place is not None
    assert due.place.position == 1  # its ticket came first


def test_a_claimed_job_leaves_the_line_and_is_told_as_not_waiting() -> None:
    world = World()
    agent = world.agent("a1")
    job = world.job()
    job.claim(str(agent.id), f"ack.{job.id}")
    world.record(job)
    assert world.queue.line("default") == []
    state = world.situation(job)
    assert state is not None
    answer = explain(state, T0)
    assert answer.reason is WaitReason.NOT_WAITING
    assert answer.sentence == "It is not waiting: agent a1 claimed it and is starting it."


def test_the_agent_holding_a_job_makes_the_next_one_wait_as_busy() -> None:
    world = World()
    agent = world.agent("a1")
    held, waiting = world.job(), world.job()
    held.claim(str(agent.id), f"ack.{held.id}")
    world.record(held)
    state = world.situation(waiting)
    assert state is not None
    assert explain(state, T0).reason is WaitReason.AGENTS_BUSY


def test_a_job_the_boards_do_not_know_has_no_situation() -> None:
    world = World()
    assert situation(str(uuid4()), world.jobs, world.queue, world.agents, world.pools) is None


def test_the_queue_board_keeps_tickets_and_backoffs_through_a_picture() -> None:
    world = World()
    agent = world.agent("a1")
    first, _ = world.job(), world.job()
    failed(world, first, agent)
    restored = QueueBoard()
    restored.restore(orjson.loads(orjson.dumps(world.queue.dump())))
    assert restored.line("default") == world.queue.line("default")
    assert restored.retry_at == {str(first.id): RETRY_AT}
    first.claim(str(agent.id), "ack.again")
    for recorded in world.rec.record(first, T0):
        restored.apply(recorded)
    assert restored.retry_at == {}
