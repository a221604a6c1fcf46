"""A read model is not sent the event classes it says it skips (`ReadModel.skips`): every such
event, met anywhere in a history of every event class, must leave the model byte for byte as it
was. A model that read one of them after all would lose it without a word, so this holds the
lists to the code."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.agent import Agent, HostInfo, Metrics
from domain.catalog import EVENT_NAMES
from domain.deployment import Deployment, Environment, Outcome
from domain.health import HealthPolicy
from domain.job import Job
from domain.job_status import JobStatus
from domain.model import Aggregate, DomainEvent
from domain.pool import Pool, pool_id
from domain.queue import FailureClass, QueueSpec, RetryRule
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.read_models import ReadModels
from projections.base import ReadModel
from tests.conftest import Recorder

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")
HOST = HostInfo(hostname="build-1", os="linux", arch="x86_64", cpu_count=4, memory_mb=8192)
STAGING, PRODUCTION = Environment.STAGING, Environment.PRODUCTION


class History:
    """One recorder, one second between changes, as the event store would number them."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.clock = 0

    def record(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.clock += 1
            self.rec.record(aggregate, T0 + timedelta(seconds=self.clock))

    def job(self, spec: QueueSpec | None = None) -> Job:
        job = Job.create(uuid4(), "build", GIT, {"label": "x"}, spec)
        self.record(job)
        return job

    def claimed(self, job: Job, agent: Agent) -> Job:
        job.claim(str(agent.id), f"ack.{job.id}")
        self.record(job)
        return job

    def deployment(self, version: str, *stages: tuple[Environment, Outcome]) -> Deployment:
        deployment = Deployment.create(uuid4(), "api", version, GIT)
        self.record(deployment)
        for environment, outcome in stages:
            deployment.advance(environment, outcome, reason="bad")
            self.record(deployment)
        return deployment


def history() -> list[RecordedEvent]:
    """Pools and agents through their lives; jobs through every way in and out of the queue;
    deployments live, failed, superseded, rolled back and restored."""
    h = History()
    pool = Pool.create(pool_id("linux"), "linux", 0, 4, ["docker"])
    h.record(pool)
    pool.change_limits(1, 5)
    pool.pause("maintenance")
    pool.resume()
    h.record(pool)
    agent = Agent.register(uuid4(), "busy", "linux", ["docker"], "1.0", HOST, 2)
    other = Agent.register(uuid4(), "spare", "linux", [], "1.0", HOST, 1)
    h.record(agent, other)
    agent.observe(Metrics(cpu_pct=95, mem_pct=10, disk_pct=10, running_jobs=0), HealthPolicy())
    agent.drain()
    agent.resume()
    h.record(agent)

    spec = QueueSpec(pool="linux", unique_key="nightly")
    plain = h.job()
    plain.queue(spec)
    h.record(plain)
    h.claimed(plain, agent).start(str(agent.id))
    plain.complete(JobStatus.SUCCESS, exit_code=0)
    h.record(plain)

    bumpy = h.job(QueueSpec(pool="linux", max_attempts=5))
    h.claimed(bumpy, agent).fail("flaky", FailureClass.SCRIPT, True, 1, T0)
    h.record(bumpy)
    h.claimed(bumpy, other).lose_attempt("agent lost", T0)
    h.record(bumpy)
    h.claimed(bumpy, agent).release()
    h.record(bumpy)
    h.claimed(bumpy, agent).fail("broken", FailureClass.INFRA, False, None, T0)
    h.record(bumpy)
    bumpy.requeue("fixed")
    h.record(bumpy)
    h.claimed(bumpy, agent).start(str(agent.id))
    bumpy.cancel("not needed")
    h.record(bumpy)

    once = h.job(QueueSpec(max_attempts=1))
    h.claimed(once, other).lose_attempt("agent lost", T0)
    h.record(once)
    covered = h.job(QueueSpec(retry=RetryRule(exit_codes=(3,), max_attempts=1)))
    h.claimed(covered, agent).fail("exit 3", FailureClass.SCRIPT, True, 3, T0)
    h.record(covered)
    h.claimed(h.job(spec), agent).start(str(agent.id))
    h.record(h.job())
    other.deregister("host retired")
    h.record(other)

    ok = (STAGING, Outcome.SUCCEEDED), (PRODUCTION, Outcome.SUCCEEDED)
    v1, v2 = h.deployment("v1", *ok), h.deployment("v2", *ok)
    v1.supersede(v2.id)
    v2.roll_back("errors", v1)
    v1.restore(v2.id)
    h.record(v1, v2)
    h.deployment("v3", (STAGING, Outcome.FAILED))
    h.deployment("v4", ok[0], (PRODUCTION, Outcome.STARTED), (PRODUCTION, Outcome.FAILED))
    return h.rec.log


def state(model: ReadModel) -> bytes:
    """Everything the model holds, not only what its picture holds."""
    return pickle.dumps(vars(model))


@pytest.mark.parametrize("model", ReadModels().all(), ids=lambda m: m.name)
def test_a_skipped_event_leaves_the_model_as_it_was(model: ReadModel) -> None:
    met = 0
    for recorded in history():
        if recorded.kind not in model.kinds:
            continue
        if type(recorded.event) not in model.skips:
            model.apply(recorded)
            continue
        before = state(model)
        model.apply(recorded)
        assert state(model) == before, f"{model.name} read {recorded.type}"
        met += 1
    assert met or not model.skips


def test_the_history_meets_every_event_class_a_model_may_skip() -> None:
    """So no skipped class goes unchecked above."""
    skipped = set[type[DomainEvent]]().union(*(model.skips for model in ReadModels().all()))
    assert skipped <= {type(r.event) for r in history()}


SKIPPABLE = {Job.KIND, Agent.KIND, Deployment.KIND, Pool.KIND}
"""The kinds whose events a model may skip; access and trust events are few, and read whole."""


def _kind(event_name: str) -> str:
    return event_name.split(".")[0]


@pytest.mark.parametrize("model", ReadModels().all(), ids=lambda m: m.name)
def test_a_model_skips_only_classes_of_its_own_skippable_kinds(model: ReadModel) -> None:
    assert {_kind(EVENT_NAMES[cls]) for cls in model.skips} <= model.kinds & SKIPPABLE
