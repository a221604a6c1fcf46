"""A Python client for JetDeck's HTTP API: `JetDeck` (blocking) and `AsyncJetDeck` (asyncio).

Every write carries an `Idempotency-Key` (the caller's, or one the client makes) and is retried,
with that same key, on a 503 or a connection error, so a retry never writes twice. Requests are
built from the API's own request models (a bad input raises pydantic's `ValidationError` before
anything is sent) and answers validated against its answer models; a write that records an event
answers `Written`: the model as `value`, with its `seq` and `idempotency_key`."""

from client._http import ApiError, ClientError, RetryPolicy, UnreachableError
from client.aio import AsyncJetDeck
from client.models import Written
from client.sync import JetDeck
from wire.common import Page

__all__ = [
    "ApiError",
    "AsyncJetDeck",
    "ClientError",
    "JetDeck",
    "Page",
    "RetryPolicy",
    "UnreachableError",
    "Written",
]
