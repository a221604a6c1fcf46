"""Watch agent heartbeats: missed beats make an agent unhealthy, an expired one makes it offline.

Offline comes from the server: each agent's last heartbeat lives `offline_after_intervals`
heartbeat intervals, and when it expires the server writes a `MaxAge` marker, whether or not
anyone watches; the durable consumer reads it then or after a restart. Unhealthy-by-silence
needs a clock, so this process also checks how long each agent has been quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.agent import TAKES_WORK, AgentStatus
from domain.errors import JetDeckError
from domain.health import classify_silence
from infra.agents import AgentService
from infra.durable_consumer import DurableConsumer
from infra.layout import HEARTBEATS
from infra.leases import MARKER

log = logging.getLogger(__name__)


class HealthMonitor:
    def __init__(self, nc: Client, agents: AgentService) -> None:
        self.agents = agents
        self.policy = agents.policy
        self.last_seen: dict[str, datetime] = {}
        self.consumer = DurableConsumer(nc, HEARTBEATS, "health-monitor", "hb.>", self._on_beat)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._seed()
        await self.consumer.start()
        self._task = asyncio.create_task(self._watch_silence())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _seed(self) -> None:
        """After a restart: when did each agent last speak?"""
        for view in self.agents.views.agents.select(None, None, None):
            beat = await self.agents.last_beat(view.agent_id)
            if beat is not None:
                self.last_seen[view.agent_id] = beat.at

    async def _on_beat(self, msg: Msg) -> None:
        agent_id = msg.subject.split(".", 1)[1]
        if (msg.headers or {}).get(MARKER) == "MaxAge":
            self.last_seen.pop(agent_id, None)
            if await self.agents.last_beat(agent_id) is None:  # not beating again since
                await self.agents.went_silent(agent_id)
        elif MARKER not in (msg.headers or {}):
            self.last_seen[agent_id] = msg.metadata.timestamp

    async def _watch_silence(self) -> None:
        while True:
            await asyncio.sleep(self.policy.heartbeat_interval_s / 4)
            await self.check_silence(datetime.now(UTC))

    async def check_silence(self, now: datetime) -> None:
        for agent_id, seen in list(self.last_seen.items()):
            quiet = (now - seen).total_seconds()
            view = self.agents.views.agents.get(agent_id)
            if view is None or view.health not in TAKES_WORK:
                continue
            if classify_silence(quiet, self.policy) is AgentStatus.UNHEALTHY:
                try:
                    await self.agents.silent_for(agent_id, quiet)
                except JetDeckError as exc:
                    log.warning("agent %s: %s", agent_id, exc)
