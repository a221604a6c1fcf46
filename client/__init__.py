"""A Python client for JetDeck's HTTP API: `JetDeck` (blocking) and `AsyncJetDeck` (asyncio).

Every write carries an `Idempotency-Key` (the caller's, or one the client makes) and is retried,
with that same key, on a 503 or a connection error, so a retry never writes twice."""

from client._http import ApiError, ClientError, RetryPolicy, UnreachableError
from client.aio import AsyncJetDeck
from client.models import Json, Page, Receipt
from client.sync import JetDeck

__all__ = [
    "ApiError",
    "AsyncJetDeck",
    "ClientError",
    "JetDeck",
    "Json",
    "Page",
    "Receipt",
    "RetryPolicy",
    "UnreachableError",
]
