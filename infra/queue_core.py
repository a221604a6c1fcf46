"""What the queue's parts share: the connection, the command runner, the leases and the
dispatchers, the pools' consumers, and how a ticket is settled (ack, nak with a delay, term).
`infra.queue.QueueService` is the queue; this module and `infra.queue_reports` are its layers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from uuid import UUID

import orjson
from nats.aio.client import Client

from domain.commands.results import Committed
from domain.errors import (
    ForbiddenError,
    NotFoundError,
    UnavailableError,
    ValidationError,
)
from domain.job import Job
from domain.queue import PRIORITY_ORDER, RetryPolicy
from domain.tickets import Settle, Verdict
from infra.claims import Dispatchers
from infra.commands import CommandRunner
from infra.layout import QUEUE, queue_consumer
from infra.leases import Leases
from infra.nats_errors import unavailable_on_failure
from infra.projection_runner import ProjectionRunner
from infra.quarantine import Quarantine
from infra.read_models import ReadModels
from infra.settings import Settings
from infra.tokens import Claim, Signer
from infra.unit_of_work import fold, load_history

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


MAX_NAK_DELAY_S = 86400.0
"""The longest delay a nak asks for. nats-server redelivers at now + delay in int64 nanoseconds
since 1970, which overflows for delays of about 236 years and beyond (it then redelivers at once,
or cannot parse the delay at all): a ticket due later comes back once a day and is put back with
what remains."""


def nak(delay_s: float) -> bytes:
    delay_ns = int(min(max(delay_s, 0.0), MAX_NAK_DELAY_S) * 1e9)
    return b"-NAK " + orjson.dumps({"delay": delay_ns})


def ack_of(verdict: Verdict) -> bytes:
    """A ticket's verdict as the JetStream ack that carries it out."""
    if verdict.settle is Settle.ACK:
        return b"+ACK"
    if verdict.settle is Settle.TERM:
        return b"+TERM " + verdict.reason.encode()
    return nak(verdict.delay_s)


class QueueCore:
    def __init__(
        self,
        nc: Client,
        commands: CommandRunner,
        runner: ProjectionRunner,
        views: ReadModels,
        signer: Signer,
        settings: Settings,
        clock: Callable[[], datetime] = now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """`clock` and `rand` (the backoff's jitter) are injected so tests can fix them."""
        self.nc = nc
        self.js = nc.jetstream()
        self.commands = commands
        self.runner = runner
        self.views = views
        self.signer = signer
        self.settings = settings
        self.clock = clock
        self.rand = rand
        self.retry = RetryPolicy(
            base_s=settings.retry_base_s, cap_s=settings.retry_cap_s, jitter=settings.retry_jitter
        )
        self.leases = Leases(nc, commands.store.replies, settings.write_timeout_s)
        self.dispatchers = Dispatchers(
            nc, settings.claim_poll_s, settings.write_timeout_s, settings.claim_prefetch
        )
        self._consumers: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.rejected = Quarantine()
        """Tickets terminated for not being JetDeck job tickets (QUEUE sequences)."""

    async def open(self) -> None:
        await self.dispatchers.open()

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dispatchers.close()

    async def _ensure_pool(self, pool: str) -> None:
        if pool in self._consumers:
            return
        known = self.views.queue.pools() | set(self.views.pools.pools) | self._consumers
        if pool not in known and len(known) >= self.settings.max_pools:
            raise ValidationError(
                f"pool {pool!r} would be pool number {len(known) + 1}; "
                f"JETDECK_MAX_POOLS allows {self.settings.max_pools}"
            )
        with unavailable_on_failure(f"declaring the consumers of pool {pool}"):
            for priority in PRIORITY_ORDER:
                config = queue_consumer(pool, priority, self.settings.queue_ack_wait_s)
                await self.js.add_consumer(QUEUE, config)
        self._consumers.add(pool)

    async def load(self, job_id: UUID) -> Committed[Job]:
        history = await load_history(self.commands.store, Job.KIND, job_id)
        if not history:
            raise NotFoundError(Job.KIND, str(job_id))
        job = fold(history)
        assert isinstance(job, Job)
        return Committed(job, history[-1].seq, replayed=True)

    async def _send(self, ack_subject: str | None, ack: bytes) -> None:
        if ack_subject:
            await self.nc.publish(ack_subject, ack)

    def claim_of(self, job_id: UUID, token: str) -> Claim:
        return self._verify(job_id, token)

    def _verify(self, job_id: UUID, token: str) -> Claim:
        claim = self.signer.verify(token, Claim)
        if claim.job_id != str(job_id):
            raise ForbiddenError(f"the claim token is for job {claim.job_id}, not {job_id}")
        return claim

    def _background(self, work: Coroutine[None, None, None]) -> None:
        async def best_effort() -> None:
            try:
                await work
            except UnavailableError as exc:
                log.warning("background queue work failed: %s", exc)

        task = asyncio.create_task(best_effort())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
