"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response

from domain.errors import NotFoundError
from domain.model import Aggregate
from infra.commands import Committed
from infra.services import Services

SEQ_HEADER = "X-JetDeck-Seq"


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` in its
# thread pool, which cost a fifth of the API's CPU per request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def read_after(
    services: ServicesDep,
    min_seq: Annotated[
        int | None,
        Query(ge=0, description="Wait until the read models include this stream sequence."),
    ] = None,
) -> Services:
    if min_seq is not None:
        await services.runner.wait_for(min_seq, services.settings.read_wait_s)
    return services


Reader = Annotated[Services, Depends(read_after)]


A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


def committed(response: Response, result: Committed[A]) -> None:
    response.headers[SEQ_HEADER] = str(result.seq)


def found(value: T | None, kind: str, key: object) -> T:
    """The value a read model answered with, or the 404 for asking after nothing."""
    if value is None:
        raise NotFoundError(kind, str(key))
    return value
