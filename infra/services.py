"""The parts one JetDeck process shares: connection, event store, command runner, read models."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamState

from domain.errors import UnavailableError
from infra.access import AccessService
from infra.agents import AgentService
from infra.authn import Authenticator
from infra.commands import CommandRunner
from infra.connection import connect
from infra.durable_consumer import DurableConsumer
from infra.event_store import EventStore
from infra.jwks import HttpFactory, JwksCache, http_factory
from infra.layout import EVENTS, JTI_BUCKET, SESSIONS_BUCKET, check_layout
from infra.lease_monitor import lease_monitor
from infra.logs import LogStore
from infra.pools import PoolService
from infra.projection_runner import ProjectionRunner
from infra.queue import QueueService
from infra.read_models import ReadModels
from infra.recent_beats import RecentBeats
from infra.runtime import tune_gc
from infra.scratch import KeptFile, ScratchFile
from infra.sessions import SessionStore
from infra.settings import Settings
from infra.time_travel import PastViews
from infra.tokens import Signer, event_writer_key, shared_secret
from infra.trust_policies import TrustPolicyService
from infra.worker_beats import WorkerWatch
from infra.workload_identity import WorkloadIdentity
from projections.finished_jobs import FinishedJobs
from projections.jobs import JobBoard

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    nc: Client
    store: EventStore
    commands: CommandRunner
    runner: ProjectionRunner
    views: ReadModels
    queue: QueueService
    agents: AgentService
    pools: PoolService
    logs: LogStore
    signer: Signer
    lease_monitor: DurableConsumer
    access: AccessService
    authn: Authenticator
    sessions: SessionStore
    trust: TrustPolicyService
    workload: WorkloadIdentity
    past: PastViews
    workers: WorkerWatch
    beats: RecentBeats
    as_of_seq: int | None = None
    """Set when `views` is a past state (`?as_of=`): the sequence it covers."""
    as_of_at: datetime | None = None
    """Set with `as_of_seq` when `?as_of=` named a time: that time."""
    kept: bool = False
    """The read models' store is a file kept for the next process of this name: parked in it
    at close."""

    @property
    def position(self) -> int:
        """The sequence `views` cover."""
        return self.runner.position if self.as_of_seq is None else self.as_of_seq

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
        self.past.close()
        await self.workers.stop()
        await self.beats.stop()
        await self.sessions.stop()
        await self.lease_monitor.stop()
        await self.agents.stop()
        await self.queue.close()
        await self.runner.stop()
        if self.kept:
            await self._park()
        self.views.jobs.close()
        try:
            await self.nc.drain()
        except NatsError:  # the server went first: nothing left to flush
            await self.nc.close()

    async def _park(self) -> None:
        try:
            await self.runner.park()
        except UnavailableError as exc:  # the next start goes by the pictures, as after a crash
            log.warning("read models not parked: %s", exc)


def _read_models(settings: Settings, name: str, dashboard: bool) -> tuple[ReadModels, bool]:
    """With the dashboard's models, finished jobs go to a file of this process's, out of
    memory (docs/architecture.md, Read models): the file of its name, kept for the next
    process of that name, unless a live one holds it. The flag: the file is kept."""
    if not dashboard:
        return ReadModels(), False
    stem = f"finished-jobs-{name}"
    try:
        kept = KeptFile(settings.data_dir, stem, ".sqlite3")
    except BlockingIOError:
        scratch = ScratchFile(settings.data_dir, stem, ".sqlite3")
        return ReadModels(jobs=JobBoard(finished=FinishedJobs(scratch.path, scratch.remove))), False
    try:
        finished = FinishedJobs(kept.path, kept.release)
    except sqlite3.DatabaseError:  # not a database any more (a disk's fault): started afresh
        log.warning("%s could not be opened; starting it afresh", kept.path.name)
        kept.discard()
        finished = FinishedJobs(kept.path, kept.release)
    return ReadModels(jobs=JobBoard(finished=finished)), True


async def open_services(
    settings: Settings,
    name: str,
    http: HttpFactory | None = None,
    snapshots: bool = False,
    watch_workers: bool = False,
    dashboard: bool = True,
) -> Services:
    """Connect, check the layout, restore the read models and catch them up. With `snapshots`
    this process also writes the read models' snapshots (only the API process does); with
    `watch_workers` it listens for the workers' beats (only the API reports on them); without
    `dashboard` the job board and statistics stay empty (workers read neither, and both grow
    with every job ever run), and so do the agents' recent heartbeats.

    `http` makes the clients that fetch OIDC issuers' keys; tests serve an issuer in process."""
    if snapshots and not dashboard:
        raise ValueError("a snapshot writer needs every read model: its pictures are everyone's")
    tune_gc()
    nc = await connect(settings.server_url, name, settings.nats_login)
    await check_layout(nc.jetstream(), settings.replicas)
    writer_key = await event_writer_key(nc.jetstream(), settings.writer_key)
    store = EventStore(nc, writer_key=writer_key, write_timeout_s=settings.write_timeout_s)
    views, kept = _read_models(settings, name, dashboard)
    keep_every = settings.snapshot_keep_every if snapshots else None
    runner = ProjectionRunner(
        nc, views.fed(dashboard), settings.snapshot_every, writer_key, keep_every=keep_every
    )
    try:
        await runner.start()
        await runner.catch_up(timeout_s=300)
    except BaseException:  # a read model's store is this process's file: not left behind
        await runner.stop()
        views.jobs.close()
        raise
    commands = CommandRunner(store, settings.append_retries)
    configured = settings.token_secret.get_secret_value() if settings.token_secret else None
    signer = Signer(await shared_secret(nc.jetstream(), configured))
    queue = QueueService(nc, commands, runner, views, signer, settings)
    await queue.open()
    agents = AgentService(nc, commands, runner, views, queue, signer, settings)
    await agents.start()
    monitor = lease_monitor(nc, queue)
    await monitor.start()
    access = AccessService(commands, runner, views)
    js = nc.jetstream()
    session_kv = await js.key_value(SESSIONS_BUCKET)
    sessions = SessionStore(js, session_kv, settings.session_idle_s, settings.session_max_s)
    await sessions.start()
    federation = settings.workload_identity
    keys = JwksCache(http or http_factory(federation.http_timeout_s), federation)
    jtis = await nc.jetstream().key_value(JTI_BUCKET)
    workload = WorkloadIdentity(views, runner, keys, jtis, signer, federation, settings.read_wait_s)
    workers = WorkerWatch(settings.expected_workers)
    if watch_workers:  # only the API reports on the workers; the workers need not hear each other
        await workers.start(nc)
    beats = RecentBeats(js)
    if dashboard:  # the agents page's sparklines
        await beats.start()
    return Services(
        settings=settings,
        nc=nc,
        store=store,
        commands=commands,
        runner=runner,
        views=views,
        queue=queue,
        agents=agents,
        pools=PoolService(commands),
        logs=LogStore(nc),
        signer=signer,
        lease_monitor=monitor,
        access=access,
        authn=Authenticator(access, agents, sessions),
        sessions=sessions,
        trust=TrustPolicyService(commands),
        workload=workload,
        past=PastViews(nc, writer_key, settings.as_of_cache),
        workers=workers,
        beats=beats,
        kept=kept,
    )
