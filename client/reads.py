"""Reads. A read after your own write passes the write's `seq` as `min_seq`; every list is an
iterator over all its pages (`limit` sets the page size)."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from client._http import Call
from client._ops import Op, Pages
from client.models import model
from domain.agent import AgentStatus
from domain.deployment import DeploymentStatus
from projections.agents import AgentView, PoolView
from projections.deployments import DeploymentView
from projections.job_views import JobFilter, JobView
from projections.queue import DeadLetter, LevelStats
from projections.summary import Summary
from wire.agents import Scaling
from wire.audit import AuditTrail
from wire.common import Page

T = TypeVar("T")
LIMIT = 50


def _list(path: str, cls: type[Page[T]], limit: int, **params: Any) -> Call[Page[T]]:
    return Call("GET", path, model(cls), params={**params, "limit": limit})


def get_job(job_id: UUID | str, min_seq: int | None = None) -> Call[JobView]:
    path = f"/api/dashboard/jobs/{job_id}"
    return Call("GET", path, model(JobView), params={"min_seq": min_seq})


def jobs(
    where: JobFilter | None = None, min_seq: int | None = None, limit: int = LIMIT
) -> Call[Page[JobView]]:
    filters = (where or JobFilter()).model_dump(mode="json", exclude_none=True)
    return _list("/api/dashboard/jobs", Page[JobView], limit, min_seq=min_seq, **filters)


def running_jobs(limit: int = LIMIT) -> Call[Page[JobView]]:
    return _list("/api/dashboard/jobs/running", Page[JobView], limit)


def get_deployment(deployment_id: UUID | str, min_seq: int | None = None) -> Call[DeploymentView]:
    path = f"/api/dashboard/deployments/{deployment_id}"
    return Call("GET", path, model(DeploymentView), params={"min_seq": min_seq})


def deployments(
    service: str | None = None,
    status: DeploymentStatus | None = None,
    min_seq: int | None = None,
    limit: int = LIMIT,
) -> Call[Page[DeploymentView]]:
    path = "/api/dashboard/deployments"
    return _list(path, Page[DeploymentView], limit, service=service, status=status, min_seq=min_seq)


def agents(
    pool: str | None = None, status: AgentStatus | None = None, limit: int = LIMIT
) -> Call[Page[AgentView]]:
    return _list("/api/agents", Page[AgentView], limit, pool=pool, status=status)


def get_agent(agent_id: UUID | str, min_seq: int | None = None) -> Call[AgentView]:
    return Call("GET", f"/api/agents/{agent_id}", model(AgentView), params={"min_seq": min_seq})


def pools(limit: int = LIMIT) -> Call[Page[PoolView]]:
    return _list("/api/pools", Page[PoolView], limit)


def scaling(pool: str) -> Call[Scaling]:
    return Call("GET", f"/api/pools/{pool}/scaling", model(Scaling))


def queue_stats(limit: int = LIMIT) -> Call[Page[LevelStats]]:
    return _list("/api/queue/stats", Page[LevelStats], limit)


def dead_letters(limit: int = LIMIT) -> Call[Page[DeadLetter]]:
    return _list("/api/queue/dead-letters", Page[DeadLetter], limit)


def summary(min_seq: int | None = None) -> Call[Summary]:
    return Call("GET", "/api/dashboard/summary", model(Summary), params={"min_seq": min_seq})


def audit(aggregate: str, aggregate_id: UUID | str) -> Call[AuditTrail]:
    """Every event of one aggregate (`job`, `deployment`, ...), straight from the log, its hash
    chain checked."""
    return Call("GET", f"/api/audit/{aggregate}/{aggregate_id}", model(AuditTrail))


class Reading:
    get_job = Op(get_job)
    jobs = Pages(jobs)
    running_jobs = Pages(running_jobs)
    get_deployment = Op(get_deployment)
    deployments = Pages(deployments)
    agents = Pages(agents)
    get_agent = Op(get_agent)
    pools = Pages(pools)
    scaling = Op(scaling)
    queue_stats = Pages(queue_stats)
    dead_letters = Pages(dead_letters)
    summary = Op(summary)
    audit = Op(audit)
