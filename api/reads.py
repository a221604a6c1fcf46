"""Reads that both a JSON route and a dashboard page answer, so the two always agree."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from api.deps import found
from domain.agent import AgentStatus
from domain.job import Job
from infra.job_detail import job_detail
from infra.services import Services
from projections.jobs import JobView
from projections.summary import Summary
from wire.agents import HealthCounts


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


async def job(services: Services, job_id: UUID) -> JobView:
    """The job with its history and attempts; a 404 for a job the read models do not hold."""
    return found(await job_detail(services.store, services.views.jobs, job_id), Job.KIND, job_id)
