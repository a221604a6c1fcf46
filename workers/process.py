"""What every long-running worker does around its work: wait for a signal, then clean up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from infra.settings import Settings


async def until_signalled() -> None:
    """Return on SIGINT or SIGTERM, so the caller's `finally` stops its work in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run_worker(run: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """`python -m workers.<name>`: settings from the environment, logs to stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(Settings()))
