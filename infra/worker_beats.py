"""Workers say they are alive: each publishes its pid every second on `jetdeck.workers.<name>`;
the API notes when it last heard each one, and readiness names any it has not heard lately. The
supervisor tells of a worker process that ended (`jetdeck.workers.<name>.exited`): it counts as
missing at once, until a beat comes from another process.

Core NATS, not JetStream: a beat is worth nothing once the next one is due. Agents cannot
publish there (their NATS user may publish on `jetdeck.queue.>` only)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

PREFIX = "jetdeck.workers"
INTERVAL_S = 1.0
SILENT_AFTER_S = 3 * INTERVAL_S
"""A worker unheard for this long counts as missing: three beats lost, not one late."""


def process_id(pid: int) -> bytes:
    """A worker process across hosts: pids repeat from one host or container to the next, and
    the supervisor that announces an exit runs on its worker's host."""
    return f"{socket.gethostname()}:{pid}".encode()


async def beat(nc: Client, name: str) -> None:
    """Forever, until cancelled."""
    payload = process_id(os.getpid())
    while True:
        await nc.publish(f"{PREFIX}.{name}", payload)
        await asyncio.sleep(INTERVAL_S)


async def exited(nc: Client, name: str, pid: int) -> None:
    await nc.publish(f"{PREFIX}.{name}.exited", process_id(pid))


class WorkerWatch:
    def __init__(self, expected: Iterable[str], clock: Callable[[], float] = time.monotonic):
        self.expected = sorted(expected)
        self.clock = clock
        self.heard: dict[str, float] = {}
        self.ended: dict[str, set[bytes]] = {}
        """Per worker, the processes the supervisor saw end: a beat from one of them is stale."""
        self._subs: list[Any] = []

    async def start(self, nc: Client) -> None:
        self._subs = [
            await nc.subscribe(f"{PREFIX}.*", cb=self._on_beat),
            await nc.subscribe(f"{PREFIX}.*.exited", cb=self._on_exit),
        ]

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs = []

    async def _on_beat(self, msg: Msg) -> None:
        name = msg.subject.rsplit(".", 1)[-1]
        if msg.data not in self.ended.get(name, ()):
            self.heard[name] = self.clock()

    async def _on_exit(self, msg: Msg) -> None:
        name = msg.subject.split(".")[-2]
        self.ended.setdefault(name, set()).add(msg.data)
        self.heard.pop(name, None)

    def missing(self) -> list[str]:
        """Expected workers not heard within SILENT_AFTER_S, or not yet at all."""
        now = self.clock()
        return [n for n in self.expected if now - self.heard.get(n, -1e18) > SILENT_AFTER_S]
