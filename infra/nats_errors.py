"""NATS errors become ours at the edge of infra, so no caller sees a nats-py exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nats.errors import Error as NatsError

from domain.errors import UnavailableError


@contextmanager
def unavailable_on_failure(what: str) -> Iterator[None]:
    """A NATS failure or time-out while doing `what` is an UnavailableError (503, retry)."""
    try:
        yield
    except (NatsError, TimeoutError) as exc:
        raise UnavailableError(f"{what} failed: {exc!r}") from exc
