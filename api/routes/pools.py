"""Pools of agents: declare them, read them, and ask how many agents each should have."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from api.auth import PROTECTED, Operating, Reading
from api.commands import Command
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Body, Cursor, Limit, Page
from domain.agent import Labels
from domain.pool import Pool, desired_agents
from domain.queue import PoolName
from projections.agents import PoolView

router = APIRouter(prefix="/api/pools", tags=["pools"], responses=PROTECTED)
Count = Annotated[int, Field(ge=0, le=10_000)]


class PoolRequest(Body):
    name: PoolName
    min_agents: Count = 0
    max_agents: Count = 10
    labels: Labels = ()


class Scaling(BaseModel):
    pool: str
    idle_agents: int
    busy_agents: int
    queue_depth: int
    oldest_wait_s: float | None
    min_agents: int
    max_agents: int
    desired_agents: int
    """busy + queued jobs (idle agents only, until the oldest has waited 30 s), in [min, max]."""


def _pool(services: Reader, name: str) -> PoolView:
    return found(services.views.pools.get(name), Pool.KIND, name)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Operating])
async def create_pool(
    body: PoolRequest, services: ServicesDep, command: Command, response: Response
) -> PoolView:
    cause = command.cause("pool.create")
    result = await services.pools.create(
        cause, body.name, body.min_agents, body.max_agents, frozenset(body.labels)
    )
    committed(response, result)
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
    return _pool(services, body.name)


@router.get("", dependencies=[Reading])
async def list_pools(services: Reader, limit: Limit = 50, cursor: Cursor = None) -> Page[PoolView]:
    pools = services.views.pools.listing()
    return Page.window(pools, limit, cursor)


@router.get("/{pool}", dependencies=[Reading])
async def get_pool(pool: str, services: Reader) -> PoolView:
    return _pool(services, pool)


@router.get("/{pool}/scaling", dependencies=[Reading])
async def scaling(pool: str, services: Reader) -> Scaling:
    view = _pool(services, pool)
    idle, busy = services.views.agents.idle_and_busy(pool)
    levels = [s for s in services.views.queue.stats(datetime.now(UTC)) if s.pool == pool]
    depth = sum(level.depth for level in levels)
    waits = [level.oldest_wait_s for level in levels if level.oldest_wait_s is not None]
    oldest = max(waits, default=None)
    return Scaling(
        pool=pool,
        idle_agents=idle,
        busy_agents=busy,
        queue_depth=depth,
        oldest_wait_s=oldest,
        min_agents=view.min_agents,
        max_agents=view.max_agents,
        desired_agents=desired_agents(view, idle, busy, depth, oldest or 0.0),
    )
