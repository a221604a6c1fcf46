"""For commands whose answer is read from the read models."""

from __future__ import annotations

from typing import TypeVar

from domain.commands.results import Committed
from domain.model import Aggregate
from infra.services import Services

A = TypeVar("A", bound=Aggregate)


async def settled(services: Services, result: Committed[A]) -> Committed[A]:
    """The result, once the read models hold it."""
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)
    return result
