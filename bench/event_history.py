"""Realistic histories for the benchmarks: jobs and deployments moved by the domain itself,
encoded by the unit of work (hash-chained, sealed envelopes, the subjects and message ids the
event store uses), with the headers it writes, for a stream that holds nothing else: each
event's optimistic-concurrency header is known in advance, so they can all be pipelined."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from uuid import UUID

from nats.aio.client import Client

from bench.common import GIT, METADATA, new_cause, store_headers
from bench.figures import timed
from domain.deployment import Deployment, Environment, Outcome
from domain.job import Job
from domain.job_status import JobStatus
from domain.model import Aggregate
from domain.recorded import chain_hash
from domain.values import GitContext
from infra.codec import content_of
from infra.event_store import EventStore, Outgoing
from infra.unit_of_work import Tracked, UnitOfWork

IN_FLIGHT = 500
"""Aggregates in progress at once, so an aggregate's events spread over the stream."""
DEPLOYMENT_SHARE = 0.08

Step = Callable[[Aggregate], None]
Gits = tuple[GitContext, ...]


@dataclass
class Script:
    """One aggregate, the commands still to run on it, and where its last event landed."""

    tracked: Tracked
    steps: list[Step] = field(default_factory=list)


def job_steps(rng: random.Random) -> list[Step]:
    """Start on an agent, then finish: mostly success, some failures and timeouts."""
    agent = f"agent-{rng.randrange(40):02d}"
    status = rng.choices(
        [JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.TIMEOUT], weights=[85, 12, 3]
    )[0]
    code = 0 if status is JobStatus.SUCCESS else rng.choice([1, 2, 137])

    def start(job: Aggregate) -> None:
        assert isinstance(job, Job)
        job.start(agent)

    def complete(job: Aggregate) -> None:
        assert isinstance(job, Job)
        url = f"https://ci.example.com/logs/{job.id}"
        job.complete(status, code, f"{status.value}: 412 tests", url, (f"{url}/report.xml",))

    steps: list[Step] = [start, complete]
    return steps[: rng.choices([0, 1, 2], weights=[3, 3, 94])[0]]


def deployment_steps(rng: random.Random) -> list[Step]:
    """Staging, then production; a few fail on the way."""
    stages = [
        (Environment.STAGING, Outcome.STARTED),
        (Environment.STAGING, Outcome.SUCCEEDED),
        (Environment.PRODUCTION, Outcome.STARTED),
        (Environment.PRODUCTION, rng.choices([Outcome.SUCCEEDED, Outcome.FAILED], [9, 1])[0]),
    ]

    def advance(env: Environment, outcome: Outcome) -> Step:
        def step(deployment: Aggregate) -> None:
            assert isinstance(deployment, Deployment)
            deployment.advance(env, outcome, "smoke tests failed", {"error_rate": 0.002})

        return step

    return [advance(env, outcome) for env, outcome in stages]


def new_script(
    rng: random.Random, n: int, deployment_share: float = DEPLOYMENT_SHARE, gits: Gits = (GIT,)
) -> Script:
    if rng.random() < deployment_share:
        service = f"service-{n % 25:02d}"
        deployment = Deployment.create(rng_uuid(rng), service, f"1.{n}.0", GIT)
        return Script(Tracked(deployment), deployment_steps(rng))
    git = gits[n % len(gits)]  # not from `rng`: the default stream stays as it was
    job = Job.create(rng_uuid(rng), rng.choice(["build", "test", "lint"]), git, METADATA)
    return Script(Tracked(job), job_steps(rng))


def rng_uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def record(store: EventStore, key: bytes, script: Script, seq: int, step: Step | None) -> Outgoing:
    """Run one command on the script's aggregate and return the one message it appends."""
    uow = UnitOfWork(store, new_cause("bench"))
    uow.tracked[script.tracked.aggregate.id] = script.tracked
    if step is not None:
        step(script.tracked.aggregate)
    (pending,) = uow.outgoing(key)
    message = pending.message
    script.tracked.last_seq = seq
    script.tracked.last_hash = chain_hash(message.subject, content_of(message.payload))
    return message


@dataclass
class Counts:
    """Aggregates generated, or found in the read models."""

    jobs: int = 0
    deployments: int = 0

    def add(self, aggregate: Aggregate) -> None:
        if isinstance(aggregate, Job):
            self.jobs += 1
        else:
            self.deployments += 1


def generate(
    store: EventStore, key: bytes, total: int, seed: int = 7
) -> tuple[list[Outgoing], Counts]:
    """`total` single-event commands over many interleaved aggregates, in stream order."""
    counts = Counts()
    return list(islice(stream_of(store, key, counts, seed), total)), counts


def stream_of(
    store: EventStore,
    key: bytes,
    counts: Counts,
    seed: int = 7,
    after: int = 0,
    deployment_share: float = DEPLOYMENT_SHARE,
    gits: Gits = (GIT,),
) -> Iterator[Outgoing]:
    """Single-event commands over many interleaved aggregates, in stream order, without end,
    for a stream that holds `after` events; `counts` counts the aggregates begun so far."""
    rng = random.Random(seed)
    active: list[Script] = []
    made = after
    while True:
        if len(active) < IN_FLIGHT:
            script = new_script(rng, made - after, deployment_share, gits)
            counts.add(script.tracked.aggregate)
            made += 1
            yield record(store, key, script, made, None)
            active.append(script)
            continue
        i = rng.randrange(len(active))
        script = active[i]
        if not script.steps:
            active[i] = active[-1]
            active.pop()
            continue
        made += 1
        yield record(store, key, script, made, script.steps.pop(0))


async def fill(nc: Client, messages: list[Outgoing]) -> float:
    """Pipeline every message in order; returns the seconds it took. Any refusal is fatal."""
    js = nc.jetstream()

    async def work() -> None:
        acks = [
            await js.publish_async(m.subject, m.payload, headers=store_headers(m)) for m in messages
        ]
        await js.publish_async_completed()
        refused = [a.exception() for a in acks if a.exception() is not None]
        if refused:
            raise RuntimeError(f"{len(refused)} appends refused, first: {refused[0]!r}")

    return await timed(work)
