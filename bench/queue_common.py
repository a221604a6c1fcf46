"""Shared by the queue benchmarks: JetDeck's services on the bench server, jobs in bulk, the raw
nats-py work queue they are measured against, CPU per job, and profiling.

The raw side is what a hand-written nats-py work queue would do: one WorkQueue stream, durable
pull consumers filtered on `rq.<level>.*`, `publish_async` per job, explicit acks.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import uuid4

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError as JsNotFoundError

from bench.common import GIT, METADATA, new_cause, new_job, store_headers
from bench.figures import CpuMeter, fmt
from domain.job import Job
from domain.job_reports import CompletionReport
from domain.queue import Priority, QueueSpec
from infra.event_store import EventStore, Outgoing
from infra.layout import QUEUE, consumer_name
from infra.queue import QueueService
from infra.services import Services, open_services
from infra.settings import Settings
from infra.unit_of_work import UnitOfWork

POOL = "default"
CALLERS = 64
"""Concurrent enqueuers, as many as the command-path bench uses."""
RAW_STREAM = "RAWQ"
SUCCEEDED = CompletionReport(exit_code=0)
"""What the benches' agents report of every job."""
T = TypeVar("T")


# --- JetDeck ---------------------------------------------------------------------------------


@asynccontextmanager
async def jetdeck(url: str, name: str) -> AsyncIterator[Services]:
    """What one API process runs (read models, lease monitor), with default settings."""
    services = await open_services(Settings(nats_url=url), name)
    try:
        yield services
    finally:
        await services.close()


def spec(priority: Priority = Priority.NORMAL) -> QueueSpec:
    return QueueSpec(pool=POOL, priority=priority)


async def enqueue_jobs(
    queue: QueueService, priorities: Iterable[Priority], callers: int = CALLERS
) -> None:
    """One job per entry of `priorities` through `QueueService.enqueue`, `callers` at a time."""
    remaining = iter(priorities)

    async def caller() -> None:
        for priority in remaining:
            job = new_job()
            await queue.enqueue(
                new_cause("job.enqueue"), job.id, job.job_type, GIT, METADATA, spec(priority)
            )

    await asyncio.gather(*(caller() for _ in range(callers)))


def queued_messages(store: EventStore, priority: Priority, key: bytes) -> list[Outgoing]:
    """What `enqueue` appends for one job: one Created event that carries the queue spec."""
    uow = UnitOfWork(store, new_cause("job.enqueue"))
    uow.add(Job.create(uuid4(), "build", GIT, METADATA, spec(priority)))
    return [p.message for p in uow.outgoing(key)]


async def preload(nc: Client, store: EventStore, priorities: Iterable[Priority]) -> None:
    """Fast setup: each job's event pipelined with the store's headers, as `enqueue` writes
    it, so the server copies every one into QUEUE as usual."""
    js = nc.jetstream()
    key = await store.key()
    for priority in priorities:
        for message in queued_messages(store, priority, key):
            await js.publish_async(message.subject, message.payload, headers=store_headers(message))
    await js.publish_async_completed()


async def wait_for_tickets(nc: Client, priorities: Sequence[Priority], timeout_s: float) -> None:
    """Until QUEUE holds a ticket for every job in `priorities`, per level."""
    js = nc.jetstream()
    wanted = {level: priorities.count(level) for level in Priority}

    async def all_there() -> bool:
        for level in Priority:
            if await tickets_held(js, QUEUE, consumer_name(POOL, level)) < wanted[level]:
                return False
        return True

    await until(all_there, timeout_s, f"QUEUE did not receive {len(priorities)} tickets")


async def tickets_held(js: JetStreamContext, stream: str, consumer: str) -> int:
    """The consumer's tickets: pending, or out to a claim dispatcher that holds them for the next
    claims (infra/claims.py)."""
    info = await js.consumer_info(stream, consumer)
    held: int = info.num_pending + info.num_ack_pending
    return held


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Polls `check` until it holds; TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} in {timeout_s} s")
        await asyncio.sleep(0.05)


# --- raw nats-py -----------------------------------------------------------------------------


def raw_subject(level: str) -> str:
    return f"rq.{level}"


def raw_consumer(level: str) -> str:
    return f"rq-{level}"


async def fresh_raw_queue(js: JetStreamContext, levels: Iterable[str]) -> None:
    """A new WorkQueue stream with one durable pull consumer per level, configured like ours."""
    with suppress(JsNotFoundError):
        await js.delete_stream(RAW_STREAM)
    config = StreamConfig(
        name=RAW_STREAM,
        subjects=["rq.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
    )
    await js.add_stream(config)
    for level in levels:
        consumer = ConsumerConfig(
            durable_name=raw_consumer(level),
            filter_subject=f"{raw_subject(level)}.*",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30.0,
            max_deliver=-1,
            max_ack_pending=100_000,
        )
        await js.add_consumer(RAW_STREAM, consumer)


async def publish_raw(js: JetStreamContext, jobs: Iterable[tuple[str, bytes]]) -> None:
    """Pipelined publishes of (level, payload), one new subject per job, every ack awaited."""
    for level, payload in jobs:
        await js.publish_async(f"{raw_subject(level)}.{uuid4().hex}", payload)
    await js.publish_async_completed()


# --- counting, CPU, profiles -----------------------------------------------------------------


@dataclass
class Tally:
    """Finished jobs until `target`, and the instant the last one finished."""

    target: int
    count: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.count >= self.target

    def add(self) -> None:
        self.count += 1
        if self.count == self.target:
            self.finished = time.perf_counter()

    @property
    def seconds(self) -> float:
        """From `started` to the last finish (or now, while unfinished)."""
        end = self.finished if self.finished is not None else time.perf_counter()
        return max(end - self.started, 1e-9)


@dataclass(frozen=True)
class CpuPerJob:
    """Milliseconds of CPU per job in each measured process."""

    ms: dict[str, float]

    @property
    def total_ms(self) -> float:
        return sum(self.ms.values())

    @property
    def text(self) -> str:
        parts = [f"{name} {fmt(ms)}" for name, ms in self.ms.items()]
        return f"CPU ms per job: {', '.join(parts)}; all together {fmt(self.total_ms)}"


async def measured(
    meter: CpuMeter, jobs: int, work: Callable[[], Awaitable[T]]
) -> tuple[T, CpuPerJob]:
    """Run `work`; also say how much CPU each of its `jobs` cost in each process."""
    before = meter.read()
    result = await work()
    spent = meter.since(before)
    return result, CpuPerJob({name: 1e3 * seconds / jobs for name, seconds in spent.items()})


async def profiled(work: Callable[[], Awaitable[object]], rows: int = 30) -> None:
    """Run `work` under cProfile and print where the CPU went, by own and cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    await work()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(rows)
    stats.sort_stats("cumulative").print_stats(rows + 20)
