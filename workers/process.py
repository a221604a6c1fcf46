"""What every long-running worker does around its work: say it is alive, wait for a signal, then
clean up."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from faststream import FastStream

from infra import runtime
from infra.connection import connect
from infra.logging_setup import configure_logging
from infra.metrics import serve_worker_metrics
from infra.settings import Settings
from infra.worker_beats import beat


async def until_signalled() -> None:
    """Return on SIGINT or SIGTERM, so the caller's `finally` stops its work in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def beating(settings: Settings, name: str, work: Awaitable[None]) -> None:
    """`work`, while this worker says every second on a connection of its own that it is alive
    (infra.worker_beats): a worker stuck on its own connection falls silent."""
    serve_worker_metrics(settings, name)
    nc = await connect(settings.server_url, f"jetdeck-{name}-beat", settings.nats_login)
    beats = asyncio.create_task(beat(nc, name))
    try:
        await work
    finally:
        beats.cancel()
        await nc.close()


def run_worker(name: str, run: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """`python -m workers.<name>`: settings from the environment, logs to stderr."""
    configure_logging()
    settings = Settings()
    with contextlib.suppress(KeyboardInterrupt):
        runtime.run(beating(settings, name, run(settings)))


def run_app(name: str, create_app: Callable[[Settings], FastStream]) -> None:
    """A FastStream worker: the same, with FastStream's own signal handling."""
    configure_logging()
    settings = Settings()
    runtime.run(beating(settings, name, create_app(settings).run()))
