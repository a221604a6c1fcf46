"""Pools of agents: declare them, read them, and ask how many agents each should have."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import reads
from api.auth import PROTECTED, Operating, Reading
from api.commands import Context
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Cursor, Limit
from domain.commands.fleet import CreatePool
from domain.pool import Pool
from infra.dispatch import handle
from projections.agents import PoolView
from wire.agents import PoolRequest, Scaling
from wire.common import Page

router = APIRouter(prefix="/api/pools", tags=["pools"], responses=PROTECTED)


def _pool(services: Reader, name: str) -> PoolView:
    return found(services.views.pools.get(name), Pool.KIND, name)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Operating])
async def create_pool(
    body: PoolRequest, services: ServicesDep, context: Context, response: Response
) -> PoolView:
    command = CreatePool(body.name, body.min_agents, body.max_agents, frozenset(body.labels))
    committed(response, await handle(services, command, context))
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
    return reads.scaling(services, _pool(services, pool))
