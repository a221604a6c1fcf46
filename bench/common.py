"""Shared by the benchmarks: a private nats-server, realistic events, the bench process itself.

Every benchmark compares a figure of ours with raw nats-py doing the same work in the same run,
and prints the ratio. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import platform
import pstats
import signal
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from nats.aio.client import Client
from nats.errors import Error as NatsError

from domain.job import Job
from domain.recorded import Cause
from domain.values import GitContext
from infra.connection import connect
from infra.embedded_server import EmbeddedServer, free_port, server_binary
from infra.event_store import EventStore, Outgoing, _headers
from infra.layout import EVENTS, apply_layout
from infra.runtime import tune_gc
from infra.unit_of_work import UnitOfWork

T = TypeVar("T")

GIT = GitContext(
    repo="acme/payments-service",
    ref="refs/heads/main",
    commit_sha="3f2a9c1e5b7d4a8f9e0c1b2d3a4f5e6d7c8b9a0f",
    commit_message="Retry the settlement call when the bank gateway times out",
    author="alice@example.com",
)
METADATA = {"pipeline": "build-and-test", "runner": "linux-x64", "trigger": "push"}


# --- the nats-server and connections -------------------------------------------------------


class BenchServer(EmbeddedServer):
    """Raw baselines declare streams of their own, so every connection of a benchmark, ours and
    raw alike, uses the layout credential: both sides pay the same for permissions (nothing)."""

    @property
    def url(self) -> str:
        return self.admin_url


@asynccontextmanager
async def nats_server() -> AsyncIterator[EmbeddedServer]:
    """A fresh JetStream server from the wheel, on a free port, with its store in a temp dir and
    JetDeck's layout declared."""
    with tempfile.TemporaryDirectory(prefix="jetdeck-bench-") as tmp:
        server = BenchServer(Path(tmp) / "nats", free_port())
        await server.start()
        try:
            await apply_layout(server.url, None, replicas=1)
            yield server
        finally:
            await server.stop()


def server_pid(server: EmbeddedServer) -> int:
    assert server.process is not None
    return server.process.pid


@asynccontextmanager
async def connected(url: str, name: str) -> AsyncIterator[Client]:
    """JetDeck's own connection settings."""
    nc = await connect(url, name)
    try:
        yield nc
    finally:
        await nc.close()


def store_headers(message: Outgoing) -> dict[str, str]:
    """The headers EventStore puts on a single-event append (the store adds the stream name)."""
    return _headers(message) | {"Nats-Expected-Stream": EVENTS}


# --- realistic events ----------------------------------------------------------------------


def new_cause(action: str) -> Cause:
    command_id = uuid4().hex
    return Cause(actor="bench", command_id=command_id, action=action, correlation_id=command_id)


def new_job() -> Job:
    return Job.create(uuid4(), "build", GIT, METADATA)


def created_job_messages(store: EventStore, count: int, key: bytes) -> list[Outgoing]:
    """What the command path appends for `count` job creates: one message each, new subjects."""
    messages: list[Outgoing] = []
    for _ in range(count):
        uow = UnitOfWork(store, new_cause("job.create"))
        uow.add(new_job())
        messages.extend(p.message for p in uow.outgoing(key))
    return messages


async def last_seq(nc: Client) -> int:
    info = await nc.jetstream().stream_info(EVENTS)
    return info.state.last_seq


# --- measuring -----------------------------------------------------------------------------


GATEWAY_START_S = 60.0


async def gateway_answering(ask: Callable[[], Awaitable[object]]) -> None:
    """`ask` until it is answered: until the gateway (a child process) has subscribed, a
    request finds no responder."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GATEWAY_START_S
    while True:
        try:
            await ask()
            return
        except NatsError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


def machine() -> str:
    """What the figures were measured on, with the load average of the moment."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    server = subprocess.run(
        [str(server_binary()), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs ({cpu_model()}), load {load}, Python {platform.python_version()}, "
        f"{server}, file storage R1 on loopback"
    )


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def print_profile(profiler: cProfile.Profile, top: int = 30) -> None:
    """The hot spots: by own time, then by cumulative time."""
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --- running -------------------------------------------------------------------------------


def parse_args(description: str) -> argparse.Namespace:
    return parse_args_with(argparse.ArgumentParser(description=description))


def parse_args_with(parser: argparse.ArgumentParser) -> argparse.Namespace:
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    return parser.parse_args()


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, with SIGTERM cancelling the run so every nats-server it started is stopped.

    The process is tuned as every JetDeck process is (`infra.runtime`); ours and the raw
    baseline share it, so the ratio stays fair.
    """
    tune_gc()

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    return asyncio.run(guarded())


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs(*names: str) -> Iterator[list[logging.LogRecord]]:
    """Collect what these loggers say instead of printing tracebacks; report it with log_summary."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield records
    finally:
        for logger, propagate in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate


def log_summary(records: Sequence[logging.LogRecord]) -> list[str]:
    """One line per distinct message and exception, with how often it came."""

    def line(record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return f"{record.name}: {record.getMessage()}{cause}"

    return [f"{n} x {text}" for text, n in Counter(map(line, records)).most_common()]
