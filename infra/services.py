"""The parts one JetDeck process shares: connection, event store, command runner, read models."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamState

from domain.errors import UnavailableError
from infra.claim_tokens import ClaimSigner, shared_secret
from infra.commands import CommandRunner
from infra.connection import connect
from infra.event_store import EventStore
from infra.layout import EVENTS, ensure_layout
from infra.lease_monitor import LeaseMonitor
from infra.projection_runner import ProjectionRunner
from infra.queue import QueueService
from infra.settings import Settings
from projections.base import ReadModel
from projections.deployments import DeploymentBoard
from projections.jobs import JobBoard
from projections.queue import QueueBoard
from projections.summary import JobStats


@dataclass
class ReadModels:
    jobs: JobBoard = field(default_factory=JobBoard)
    deployments: DeploymentBoard = field(default_factory=DeploymentBoard)
    stats: JobStats = field(default_factory=JobStats)
    queue: QueueBoard = field(default_factory=QueueBoard)

    def all(self) -> list[ReadModel]:
        return [self.jobs, self.deployments, self.stats, self.queue]


@dataclass
class Services:
    settings: Settings
    nc: Client
    store: EventStore
    commands: CommandRunner
    runner: ProjectionRunner
    views: ReadModels
    queue: QueueService
    lease_monitor: LeaseMonitor

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
        await self.lease_monitor.stop()
        await self.queue.close()
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
    commands = CommandRunner(store, settings.append_retries)
    signer = ClaimSigner(await shared_secret(nc.jetstream(), settings.claim_secret))
    queue = QueueService(nc, commands, runner, views.queue, signer, settings)
    await queue.open()
    lease_monitor = LeaseMonitor(nc, queue)
    await lease_monitor.start()
    return Services(
        settings=settings,
        nc=nc,
        store=store,
        commands=commands,
        runner=runner,
        views=views,
        queue=queue,
        lease_monitor=lease_monitor,
    )
