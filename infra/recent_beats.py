"""Each agent's last heartbeats, for the dashboard's load sparklines: a live view, not history.

HEARTBEATS keeps one message per agent, and only until the agent counts as offline, so no store
holds a trend; each API process keeps the last `SAMPLES` of every agent in memory. It hears them
from an ordered consumer on the stream rather than from its own heartbeat route, so it also sees
the beats other replicas recorded. It forgets an agent at the stream's `MaxAge` marker, which the
server writes once the agent has been silent until offline: a deregistered agent, whose token no
longer beats, goes the same way. So it holds the agents that beat lately, and never more than
`SAMPLES` of each.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime
from typing import NamedTuple

import orjson
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext

from domain.agent import Metrics
from infra.layout import HEARTBEATS
from infra.leases import MARKER

SAMPLES = 30
"""Enough for a sparkline's trend (five minutes at the default ten-second interval), few enough
to keep for every agent: about 6 KB each."""
log = logging.getLogger(__name__)


class Sample(NamedTuple):
    """CPU, memory and disk use as one heartbeat reported them, at the time the stream took it."""

    at: datetime
    cpu_pct: float
    mem_pct: float
    disk_pct: float


class BeatRing:
    """The newest `size` samples of each agent."""

    def __init__(self, size: int = SAMPLES) -> None:
        self.size = size
        self._rings: dict[str, deque[Sample]] = {}

    def add(self, agent_id: str, sample: Sample) -> None:
        self._rings.setdefault(agent_id, deque(maxlen=self.size)).append(sample)

    def forget(self, agent_id: str) -> None:
        self._rings.pop(agent_id, None)

    def of(self, agent_id: str) -> list[Sample]:
        """Oldest first."""
        return list(self._rings.get(agent_id, ()))


class RecentBeats(BeatRing):
    """The ring, fed from HEARTBEATS while started."""

    def __init__(self, js: JetStreamContext, size: int = SAMPLES) -> None:
        super().__init__(size)
        self.js = js
        self._watch: JetStreamContext.PushSubscription | None = None

    async def start(self) -> None:
        """From each agent's latest beat on, so a page served right after a restart already
        shows where every live agent stands."""
        self._watch = await self.js.subscribe(
            "hb.>",
            stream=HEARTBEATS,
            cb=self._on_beat,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        )

    async def stop(self) -> None:
        if self._watch is not None:
            await self._watch.unsubscribe()
            self._watch = None

    async def _on_beat(self, msg: Msg) -> None:
        agent_id = msg.subject.split(".", 1)[1]
        if MARKER in (msg.headers or {}):
            self.forget(agent_id)
            return
        try:
            body = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            log.warning("heartbeat of agent %s is not JSON: skipped", agent_id)
            return
        if not isinstance(body, dict) or "metrics" not in body:
            return  # the registration's beat carries no figures
        try:
            m = Metrics.model_validate(body["metrics"])
        except ValueError:
            log.warning("heartbeat of agent %s has no valid figures: skipped", agent_id)
            return
        self.add(agent_id, Sample(msg.metadata.timestamp, m.cpu_pct, m.mem_pct, m.disk_pct))
