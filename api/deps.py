"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from fastapi import Depends, Header, Query, Request, Response
from pydantic import StringConstraints

from domain.errors import NotFoundError
from domain.model import Aggregate
from domain.recorded import Cause
from infra.commands import Committed
from infra.services import Services

SEQ_HEADER = "X-JetDeck-Seq"
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
KeyHeader = Annotated[
    IdempotencyKey | None,
    Header(
        alias="Idempotency-Key",
        description="A retry with the same key returns the first result and appends nothing.",
    ),
]
CorrelationHeader = Annotated[
    str | None, Header(alias="X-Correlation-Id", min_length=1, max_length=200)
]


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` in its
# thread pool, which cost a fifth of the API's CPU per request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


class CommandContext:
    """Who sent a command and under which id; the id is the Idempotency-Key when one is given."""

    def __init__(self, key: str | None, correlation_id: str | None) -> None:
        self.key = key
        self.command_id = key or uuid4().hex
        self.correlation_id = correlation_id or self.command_id

    def cause(self, action: str, actor: str = "api") -> Cause:
        return Cause(
            actor=actor,
            command_id=self.command_id,
            action=action,
            correlation_id=self.correlation_id,
        )

    def new_id(self, action: str) -> UUID:
        """A retried create with the same key must aim at the same aggregate."""
        return uuid5(NAMESPACE_URL, f"jetdeck:{action}:{self.key}") if self.key else uuid4()


async def command_context(
    key: KeyHeader = None, correlation: CorrelationHeader = None
) -> CommandContext:
    return CommandContext(key, correlation)


Command = Annotated[CommandContext, Depends(command_context)]


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
