"""The parts one JetDeck process shares: connection, event store, command runner, read models."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamState

from domain.errors import UnavailableError
from infra.commands import CommandRunner
from infra.connection import connect
from infra.event_store import EventStore
from infra.layout import EVENTS, ensure_layout
from infra.projection_runner import ProjectionRunner
from infra.settings import Settings
from projections.deployments import DeploymentBoard
from projections.jobs import JobBoard
from projections.summary import JobStats


@dataclass
class ReadModels:
    jobs: JobBoard = field(default_factory=JobBoard)
    deployments: DeploymentBoard = field(default_factory=DeploymentBoard)
    stats: JobStats = field(default_factory=JobStats)

    def all(self) -> list[JobBoard | DeploymentBoard | JobStats]:
        return [self.jobs, self.deployments, self.stats]


@dataclass
class Services:
    settings: Settings
    nc: Client
    store: EventStore
    commands: CommandRunner
    runner: ProjectionRunner
    views: ReadModels

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    async def stream_state(self) -> StreamState:
        try:
            info = await self.nc.jetstream(timeout=2).stream_info(EVENTS)
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"stream {EVENTS} did not answer: {exc!r}") from exc
        return info.state

    async def close(self) -> None:
        await self.runner.stop()
        await self.nc.drain()


async def open_services(settings: Settings, name: str) -> Services:
    """Connect, declare the layout, restore the read models and catch them up."""
    nc = await connect(settings.server_url, name)
    await ensure_layout(nc.jetstream(), settings.replicas)
    store = EventStore(nc)
    views = ReadModels()
    runner = ProjectionRunner(nc, views.all(), settings.snapshot_every)
    await runner.start()
    await runner.catch_up(timeout_s=300)
    return Services(
        settings=settings,
        nc=nc,
        store=store,
        commands=CommandRunner(store, settings.append_retries),
        runner=runner,
        views=views,
    )
