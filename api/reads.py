"""Reads that both a JSON route and a dashboard page answer, so the two always agree."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from api.deps import found
from domain.access import RoleSet, ServiceToken
from domain.agent import AgentStatus
from domain.catalog import AGGREGATES
from domain.errors import NotFoundError
from domain.identity import Permission, Principal
from domain.job import Job
from domain.pool import desired_agents
from domain.trust import TrustPolicy
from infra.audit import chain_links
from infra.job_detail import job_detail
from infra.recent_beats import Sample
from infra.services import Services
from infra.unit_of_work import load_history
from projections.agents import AgentView, PoolView
from projections.dora import dora
from projections.jobs import JobView
from projections.queue import DeadLetter
from projections.summary import Summary
from projections.throughput import HourCount
from projections.waiting import situation
from projections.why_waiting import explain
from wire.agents import HealthCounts, Scaling
from wire.audit import AuditEvent, AuditTrail
from wire.common import Page
from wire.dora import DoraMetrics, DoraWindow
from wire.waiting import WhyWaiting

ADMIN_KINDS = frozenset({RoleSet.KIND, ServiceToken.KIND, TrustPolicy.KIND})
"""Who holds which role, which tokens exist and what a trust policy admits: admins' business."""
HIDDEN = {"sha256"}
"""Even a hash of a secret stays out of answers."""


def summary(services: Services) -> Summary:
    views = services.views
    return views.stats.summary(
        datetime.now(UTC), views.deployments.live_versions(), services.position
    )


def agent_health(services: Services) -> HealthCounts:
    by_pool = services.views.agents.counts()
    totals: dict[AgentStatus, int] = {}
    for counts in by_pool.values():
        for state, n in counts.items():
            totals[state] = totals.get(state, 0) + n
    return HealthCounts(by_status=totals, by_pool=by_pool)


async def with_beats(services: Services, views: list[AgentView]) -> list[AgentView]:
    """The agents with their latest heartbeats, which the live state alone has: the beats are
    not in the log, so a past state (`as_of`) shows what the log held then."""
    if services.as_of_seq is not None:
        return views
    return await services.agents.with_last_beats(views)


def recent_beats(services: Services, agent_id: str) -> list[Sample]:
    """The agent's last heartbeats, oldest first; none in a past state, for the same reason."""
    return [] if services.as_of_seq is not None else services.beats.of(agent_id)


def dead_letters(services: Services, limit: int, cursor: int | None) -> Page[DeadLetter]:
    """One page of the jobs that used up their attempts, the latest first."""
    return Page.window(services.views.queue.dead_letters(), limit, cursor)


async def job(services: Services, job_id: UUID) -> JobView:
    """The job with its history and attempts; a 404 for a job the read models do not hold."""
    wait_s = services.settings.read_wait_s
    shown = await job_detail(services.store, services.views.jobs, job_id, wait_s)
    return found(shown, Job.KIND, job_id)


def dora_metrics(
    services: Services, end: datetime, days: DoraWindow, service: str | None
) -> DoraMetrics:
    """The four metrics over the `days` up to `end`, for one service or (None) all."""
    figures = dora(services.views.dora.history(), end, days, service)
    return DoraMetrics.of(figures, service, days, services.position)


def throughput(services: Services, end: datetime) -> list[HourCount]:
    """Jobs finished in each of the 24 hours up to the one holding `end`."""
    return services.views.throughput.last_day(end)


def scaling(services: Services, pool: PoolView) -> Scaling:
    """How many agents the pool has and should have, from its queue and its agents."""
    idle, busy = services.views.agents.idle_and_busy(pool.name)
    levels = [s for s in services.views.queue.stats(datetime.now(UTC)) if s.pool == pool.name]
    depth = sum(level.depth for level in levels)
    waits = [level.oldest_wait_s for level in levels if level.oldest_wait_s is not None]
    oldest = max(waits, default=None)
    return Scaling(
        pool=pool.name,
        idle_agents=idle,
        busy_agents=busy,
        queue_depth=depth,
        oldest_wait_s=oldest,
        min_agents=pool.min_agents,
        max_agents=pool.max_agents,
        desired_agents=desired_agents(pool, idle, busy, depth, oldest or 0.0),
    )


async def audit_trail(
    services: Services, kind: str, aggregate_id: UUID, caller: Principal
) -> tuple[AuditTrail, list[bool]]:
    """The aggregate's events straight from the log, with whether each links to the one before
    (the chain is valid when all do); in a past state (`as_of`), those up to it. The access
    aggregates (`role`, `token`, `trust`) need the admin permission."""
    if kind not in AGGREGATES:
        raise NotFoundError("aggregate kind", kind)
    if kind in ADMIN_KINDS:
        caller.require(Permission.ADMIN)
    history = await load_history(services.store, kind, aggregate_id)
    if services.as_of_seq is not None:
        history = [r for r in history if r.seq <= services.as_of_seq]
    if not history:
        raise NotFoundError(kind, str(aggregate_id))
    events = [
        AuditEvent(
            seq=r.seq,
            time=r.at,
            type=r.type,
            subject=r.subject,
            actor=r.cause.actor,
            command_id=r.cause.command_id,
            action=r.cause.action,
            correlation_id=r.cause.correlation_id,
            prev=r.prev,
            hash=r.hash,
            data=r.event.model_dump(mode="json", exclude=HIDDEN),
        )
        for r in history
    ]
    links = chain_links(history)
    return AuditTrail(aggregate=kind, id=aggregate_id, chain_valid=all(links), events=events), links


def why(services: Services, job_id: UUID) -> WhyWaiting:
    """Why the job waits, from the read models the caller reads (a past state's included); a 404
    for a job they do not hold."""
    views = services.views
    known = situation(str(job_id), views.jobs, views.queue, views.agents, views.pools)
    state = found(known, Job.KIND, job_id)
    return WhyWaiting.of(state.job, explain(state, datetime.now(UTC)))
