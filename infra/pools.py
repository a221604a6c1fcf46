"""Pool commands: create a pool, change its limits, pause and resume it."""

from __future__ import annotations

from domain.commands.results import Committed
from domain.errors import NotFoundError
from domain.pool import DEFAULT_MAX_AGENTS, Pool, pool_id
from domain.recorded import Cause
from infra.commands import CommandRunner
from infra.unit_of_work import UnitOfWork


class PoolService:
    def __init__(self, commands: CommandRunner) -> None:
        self.commands = commands

    async def create(
        self, cause: Cause, name: str, min_agents: int, max_agents: int, labels: frozenset[str]
    ) -> Committed[Pool]:
        """Create the pool, or set the limits of the one that has this name."""

        async def decide(uow: UnitOfWork) -> Pool:
            pool = await self._get_or_create(uow, name, min_agents, max_agents, labels)
            pool.change_limits(min_agents, max_agents)
            return pool

        return await self.commands.run(cause, decide)

    async def set_paused(
        self, cause: Cause, name: str, paused: bool, reason: str = ""
    ) -> Committed[Pool]:
        """Pausing a pool nobody declared declares it with default limits."""

        async def decide(uow: UnitOfWork) -> Pool:
            pool = await self._get_or_create(uow, name, 0, DEFAULT_MAX_AGENTS, frozenset())
            if paused:
                pool.pause(reason)
            else:
                pool.resume()
            return pool

        return await self.commands.run(cause, decide)

    @staticmethod
    async def _get_or_create(
        uow: UnitOfWork, name: str, min_agents: int, max_agents: int, labels: frozenset[str]
    ) -> Pool:
        try:
            return await uow.get(Pool, pool_id(name))
        except NotFoundError:
            pool = Pool.create(pool_id(name), name, min_agents, max_agents, labels)
            uow.add(pool)
            return pool
