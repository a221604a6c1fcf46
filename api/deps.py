"""Typed dependencies shared by the routes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from domain.commands.results import Committed
from domain.errors import BeyondLogError, NotFoundError
from domain.model import Aggregate
from domain.values import is_sequence_number
from infra.services import Services
from infra.time_travel import committed_at, seq_at

SEQ_HEADER = "X-JetDeck-Seq"
AS_OF_HEADER = "X-JetDeck-As-Of-Seq"
AS_OF = (
    "Answer with the state as it stood at this point of the log: an ISO 8601 time with its zone "
    "(the events committed before it; a future time gives the present state) or a stream "
    f"sequence (inclusive; beyond the last one is a 422). The answer's `{AS_OF_HEADER}` header "
    "names the sequence used."
)


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` in its
# thread pool, which cost a fifth of the API's CPU per request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def read_after(
    services: ServicesDep,
    response: Response,
    min_seq: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait until the read models include this stream sequence (409 when the "
            "log ends before it).",
        ),
    ] = None,
    as_of: Annotated[str | None, Query(max_length=64, description=AS_OF)] = None,
) -> Services:
    if min_seq is not None:
        await wait_for_seq(services, min_seq)
    if as_of is None:
        return services
    seq = await as_of_seq(services, as_of)
    response.headers[AS_OF_HEADER] = str(seq)
    at = (
        None if is_sequence_number(as_of) else datetime.fromisoformat(as_of)
    )  # as_of_seq checked it
    return replace(services, views=await services.past.at(seq), as_of_seq=seq, as_of_at=at)


async def wait_for_seq(services: Services, seq: int) -> None:
    """Wait until the read models hold `seq`; a 409 at once when the log itself ends before it,
    since no wait could help. The stream is asked only when the read models are behind `seq`,
    so the common read (already there) costs no round trip."""
    if seq > services.runner.position:
        last = (await services.stream_state()).last_seq
        if seq > last:
            raise BeyondLogError(seq, last)
    await services.runner.wait_for(seq, services.settings.read_wait_s)


async def as_of_seq(services: Services, as_of: str) -> int:
    """The sequence `as_of` names; a bad value is a 422 like any other bad query parameter."""
    if is_sequence_number(as_of):
        seq = int(as_of)
        last = (await services.stream_state()).last_seq
        if seq > last:
            raise _bad_as_of(f"sequence {seq} is beyond the log, which ends at {last}")
        return seq
    try:
        when = datetime.fromisoformat(as_of)
    except ValueError:
        raise _bad_as_of("neither a stream sequence nor an ISO 8601 time") from None
    if when.tzinfo is None:
        raise _bad_as_of("a time needs its zone, e.g. 2026-11-21T14:03Z")
    return await seq_at(services.nc, when)


def _bad_as_of(msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", "as_of"), "msg": msg}])


Reader = Annotated[Services, Depends(read_after)]


async def read_instant(services: Reader) -> datetime:
    """The instant a read's clock-relative figures end at: the request's time, or the `as_of`
    point (a time as given, at most now, since a later one gives the present state; a sequence:
    when the stream committed it; 0, before any event: now)."""
    now = datetime.now(UTC)
    if services.as_of_at is not None:
        return min(services.as_of_at, now)
    if services.as_of_seq:
        return await committed_at(services.nc, services.as_of_seq)
    return now


Instant = Annotated[datetime, Depends(read_instant)]


A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


def committed(response: Response, result: Committed[A]) -> None:
    response.headers[SEQ_HEADER] = str(result.seq)


def found(value: T | None, kind: str, key: object) -> T:
    """The value a read model answered with, or the 404 for asking after nothing."""
    if value is None:
        raise NotFoundError(kind, str(key))
    return value
