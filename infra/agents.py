"""Build agents: registration, heartbeats, drain, deregistration, and what silence means.

Heartbeats are frequent, so they go to HEARTBEATS (one message per agent, living as long as
the agent may stay silent before it counts as offline), in pipelined batches (`BeatWriter`);
only a change of health becomes an event, and a beat is otherwise answered from the read models.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

import orjson
from nats.aio.client import Client
from nats.js.errors import NotFoundError as JsNotFoundError

from domain.agent import Agent, HostInfo, Metrics
from domain.commands.results import Beaten, Committed, Instruction, Registration
from domain.errors import NotFoundError, UnauthorizedError
from domain.health import AgentStatus, classify
from domain.identity import system
from domain.recorded import Cause
from infra.agent_tokens import AgentTokens
from infra.beat_writer import BeatWriter
from infra.commands import CommandRunner
from infra.layout import HEARTBEATS
from infra.leases import MARKER
from infra.nats_errors import unavailable_on_failure
from infra.projection_runner import ProjectionRunner
from infra.queue import QueueService
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.tokens import Signer
from infra.unit_of_work import UnitOfWork
from projections.agents import AgentView, with_beat


@dataclass(frozen=True)
class Beat:
    at: datetime
    metrics: Metrics
    running_jobs: tuple[str, ...]


_AgentAct = Callable[[Agent], None]
UNWELL = frozenset({AgentStatus.UNHEALTHY, AgentStatus.OFFLINE})
log = logging.getLogger(__name__)
HEALTH_MONITOR = str(system("health-monitor"))


def _system(action: str, agent_id: str) -> Cause:
    command_id = uuid4().hex
    return Cause(
        actor=HEALTH_MONITOR, command_id=command_id, action=action, correlation_id=agent_id
    )


class AgentService:
    def __init__(
        self,
        nc: Client,
        commands: CommandRunner,
        runner: ProjectionRunner,
        views: ReadModels,
        queue: QueueService,
        signer: Signer,
        settings: Settings,
    ) -> None:
        self.js = nc.jetstream()
        self.commands = commands
        self.runner = runner
        self.views = views
        self.queue = queue
        self.tokens = AgentTokens(signer, settings.agent_token_ttl_s)
        self.settings = settings
        self.policy = settings.health
        ttl = math.ceil(self.policy.heartbeat_interval_s * self.policy.offline_after_intervals)
        self.beats = BeatWriter(nc, ttl, settings.write_timeout_s)

    async def start(self) -> None:
        await self.beats.start()

    async def stop(self) -> None:
        await self.beats.stop()

    async def register(
        self,
        cause: Cause,
        agent_id: UUID,
        name: str,
        pool: str,
        labels: frozenset[str],
        agent_version: str,
        host: HostInfo,
        slots: int,
    ) -> Registration:
        async def make(_: UnitOfWork) -> Agent:
            return Agent.register(agent_id, name, pool, labels, agent_version, host, slots)

        result = await self.commands.create(cause, make)
        # A first beat, so an agent that never sends one still goes offline when it expires.
        await self._beat(str(result.aggregate.id), {"registered": True})
        token = self.tokens.issue(str(result.aggregate.id), result.seq)
        return Registration(result.aggregate, result.seq, token)

    async def authenticate(self, token: str) -> str:
        """The agent a token speaks for; an expired token, or a deregistered agent's, opens
        nothing."""
        identity = self.tokens.identity(token)
        await self.runner.wait_for(identity.seq, self.settings.read_wait_s)
        view = self.views.agents.get(identity.agent_id)
        if view is None or view.terminated:
            raise UnauthorizedError(f"agent {identity.agent_id} is not registered")
        return identity.agent_id

    async def heartbeat(
        self, agent_id: str, metrics: Metrics, running_jobs: tuple[str, ...]
    ) -> Beaten:
        """Record the beat, judge the health, and say what the agent should do: all from the read
        models but the beat's write, which this awaits (a 503 if it failed: the agent's next
        beat, or its retry, carries the same state)."""
        view = self.views.agents.get(agent_id)
        if view is None:
            raise NotFoundError(Agent.KIND, agent_id)
        if view.terminated:  # deregistered since its token was checked: nothing written
            raise UnauthorizedError(f"agent {agent_id} is not registered")
        await self._beat(agent_id, {"metrics": metrics.model_dump(), "running_jobs": running_jobs})
        if classify(metrics, self.policy) is not view.health:
            await self._observe(agent_id, metrics)
        view = self.views.agents.get(agent_id) or view
        return Beaten(
            view.status,
            self._instructions(agent_id, view.draining, running_jobs),
            self.tokens.renewed(agent_id, view.last_seq),
            self.policy.heartbeat_interval_s,
        )

    async def _observe(self, agent_id: str, metrics: Metrics) -> None:
        """A change of health, recorded and awaited in the read models, so the answer's status,
        read from them, is this one."""
        changed = await self._update(
            agent_id, "agent.observe", lambda a: a.observe(metrics, self.policy)
        )
        if changed is not None:
            await self.runner.wait_for(changed.seq, self.settings.read_wait_s)

    async def _beat(self, agent_id: str, body: dict[str, object]) -> None:
        """The agent's one message on HEARTBEATS; it lives until the agent counts as offline."""
        await self.beats.write(agent_id, orjson.dumps(body))

    def _instructions(
        self, agent_id: str, draining: bool, running_jobs: tuple[str, ...]
    ) -> list[Instruction]:
        out = [Instruction("drain")] if draining else []
        cancelled = self.views.agents.cancelled_of(agent_id)
        out += [Instruction("cancel", job_id) for job_id in running_jobs if job_id in cancelled]
        return out

    async def last_beat(self, agent_id: str) -> Beat | None:
        with unavailable_on_failure(f"reading the heartbeat of agent {agent_id}"):
            try:
                msg = await self.js.get_last_msg(HEARTBEATS, f"hb.{agent_id}")
            except JsNotFoundError:
                return None
        if MARKER in (msg.headers or {}) or msg.data is None or msg.time is None:
            return None
        try:
            data = orjson.loads(msg.data)
            metrics = Metrics.model_validate(data["metrics"])
            return Beat(msg.time, metrics, tuple(data["running_jobs"]))
        except (ValueError, KeyError, TypeError):  # the registration's beat, or not ours
            return None

    async def with_last_beats(self, views: list[AgentView]) -> list[AgentView]:
        """The views with each agent's latest heartbeat, read at once for all of them."""
        beats = await asyncio.gather(*(self.last_beat(view.agent_id) for view in views))
        return [
            view if beat is None else with_beat(view, beat.at, beat.metrics)
            for view, beat in zip(views, beats, strict=True)
        ]

    async def drain(self, cause: Cause, agent_id: UUID) -> Committed[Agent]:
        return await self._command(cause, agent_id, lambda a: a.drain())

    async def resume(self, cause: Cause, agent_id: UUID) -> Committed[Agent]:
        return await self._command(cause, agent_id, lambda a: a.resume())

    async def deregister(self, cause: Cause, agent_id: UUID, reason: str) -> Committed[Agent]:
        """Terminated at once, its tokens with it; its claims go back to the queue without
        costing an attempt."""
        result = await self._command(cause, agent_id, lambda a: a.deregister(reason))
        await self.runner.wait_for(result.seq, self.settings.read_wait_s)
        released = await self.queue.take_back_all(
            cause.actor, str(agent_id), "agent deregistered", lost=False
        )
        return replace(result, seq=max(result.seq, released))

    async def went_silent(self, agent_id: str) -> None:
        """Its heartbeat expired: offline, and its jobs go to other agents as lost attempts."""
        await self._update(agent_id, "agent.offline", lambda a: a.mark_offline("heartbeat expired"))
        await self.queue.take_back_all(HEALTH_MONITOR, agent_id, "agent lost", lost=True)

    async def silent_for(self, agent_id: str, seconds: float) -> None:
        await self._update(
            agent_id, "agent.silence", lambda a: a.observe_silence(seconds, self.policy)
        )

    async def _update(self, agent_id: str, action: str, act: _AgentAct) -> Committed[Agent] | None:
        view = self.views.agents.get(agent_id)
        if view is None or view.terminated:
            return None
        result = await self._command(_system(action, agent_id), UUID(agent_id), act)
        _report_health(view, result.aggregate, action)
        return result

    async def _command(self, cause: Cause, agent_id: UUID, act: _AgentAct) -> Committed[Agent]:
        async def decide(_: UnitOfWork, agent: Agent) -> None:
            act(agent)

        return await self.commands.update(cause, Agent, agent_id, decide)


def _report_health(before: AgentView, agent: Agent, action: str) -> None:
    """A log line when an agent turns unhealthy or goes offline."""
    if agent.health in UNWELL and agent.health is not before.health:
        log.warning(
            "agent %s (%s) is %s (%s)",
            agent.id,
            before.name,
            agent.health,
            action,
            extra={"agent_id": str(agent.id), "pool": before.pool, "health": str(agent.health)},
        )
