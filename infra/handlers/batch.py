"""A batch of jobs: N independent commands run at once, so their appends go out pipelined on the
event store's shared reply inbox (each a create with its own expected sequence and message id)
rather than one round trip after another. Each job answers on its own."""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar

from domain.commands.base import Command, CommandContext
from domain.commands.batch import EnqueueBatch, ItemOutcome
from domain.errors import JetDeckError
from infra.services import Services

R = TypeVar("R")


class Run(Protocol):
    """How the table runs one command (`infra.dispatch.handle`): the batch runs each job's."""

    async def __call__(
        self, services: Services, command: Command[R], context: CommandContext
    ) -> R: ...


async def enqueue_batch(
    services: Services, command: EnqueueBatch, context: CommandContext, *, run: Run
) -> tuple[ItemOutcome, ...]:
    async def one(index: int) -> ItemOutcome:
        item = command.items[index]
        try:
            return await run(services, item.command, context.part(index, item.request_hash))
        except JetDeckError as exc:
            return exc

    # The first job of each pool goes first: a pool new to this process then gets its
    # consumers declared once, not by all its jobs at the same time.
    pools = {item.command.spec.pool: n for n, item in reversed(list(enumerate(command.items)))}
    leaders = sorted(pools.values())
    others = sorted(set(range(len(command.items))) - set(leaders))
    outcomes: dict[int, ItemOutcome] = {}
    for wave in (leaders, others):
        outcomes.update(zip(wave, await asyncio.gather(*map(one, wave)), strict=True))
    return tuple(outcomes[n] for n in range(len(command.items)))
