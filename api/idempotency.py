"""The Idempotency-Key every write runs under: the client's, or one JetDeck assigns, so any write
can be retried safely. Every answer to a write that takes a key, errors included, names the key in
use in its `Idempotency-Key` header; a write whose outcome is unknown names it in its body too."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple
from uuid import uuid4

from fastapi import Depends, FastAPI, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from pydantic import ValidationError as SchemaError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wire.common import IdempotencyKey, request_hash

KEY_HEADER = "Idempotency-Key"
RAW_HEADER = KEY_HEADER.lower().encode()
STATE_KEY = "idempotency_key"
"""Where the key in use waits in the request's state for the answer's header."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

KeyHeader = Annotated[
    IdempotencyKey | None,
    Header(
        alias=KEY_HEADER,
        description="A retry with the same key and body returns the first result and appends "
        "nothing; the same key with another body is a 422. Without one, JetDeck assigns a key: "
        "every answer names the key in use in its `Idempotency-Key` header, so resend that to "
        "retry safely. Keys belong to the caller: the same key from two principals names two "
        "commands.",
    ),
]
_VALID_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)
RESPONSE_HEADER = {
    "description": "The key this write ran under: the request's, or one JetDeck assigned. "
    "Resend it with a retry (after a 503 above all: the write may have landed).",
    "schema": {"type": "string"},
}


class KeyedRequest(NamedTuple):
    key: str
    request_hash: str


async def keyed_request(request: Request, key: KeyHeader = None) -> KeyedRequest:
    """The key in use (the client's, or the one assigned) and the request's hash. A plain
    coroutine, not a generator: FastAPI wraps each generator dependency in a context manager on
    every request. A write whose outcome is unknown names its key in `api.errors`."""
    in_use = key or getattr(request.state, STATE_KEY, None) or uuid4().hex
    setattr(request.state, STATE_KEY, in_use)
    return KeyedRequest(in_use, request_hash(request.url.path, await request.body()))


Keyed = Annotated[KeyedRequest, Depends(keyed_request)]


def takes_key(dependant: Dependant) -> bool:
    return dependant.call is keyed_request or any(map(takes_key, dependant.dependencies))


def assigned_key(scope: Scope) -> str | None:
    """The request's key if it sent a valid one, a fresh one if it sent none; None for an invalid
    one, which gets its 422 and no echo."""
    raw = next((v for k, v in scope["headers"] if k == RAW_HEADER), None)
    if raw is None:
        return uuid4().hex
    try:
        return _VALID_KEY.validate_python(raw.decode("latin-1"))
    except SchemaError:
        return None


class KeyEcho:
    """Puts the key in use on every answer to a write that takes one. The key is chosen here,
    before routing: authentication may refuse the request before any command is built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if (key := assigned_key(scope)) is not None:
            state[STATE_KEY] = key

        async def send_with_key(message: Message) -> None:
            if message["type"] == "http.response.start" and STATE_KEY in state and keyed(scope):
                header = (RAW_HEADER, state[STATE_KEY].encode())
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_key)


def keyed(scope: Scope) -> bool:
    """Whether the route the request reached takes a key (routing has run by the answer)."""
    route = scope.get("route")
    return isinstance(route, APIRoute) and takes_key(route.dependant)


def key_in_use(scope: Scope) -> str | None:
    """The key the request's write runs under, if its route takes one."""
    key: str | None = scope.get("state", {}).get(STATE_KEY)
    return key if keyed(scope) else None


def with_key_header(schema: dict[str, Any]) -> dict[str, Any]:
    """Every answer of an operation that takes a key documents the key in use."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "header" and p.get("name") == KEY_HEADER for p in parameters):
                for answer in operation.get("responses", {}).values():
                    answer.setdefault("headers", {})[KEY_HEADER] = RESPONSE_HEADER
    return schema


def install(app: FastAPI) -> None:
    app.add_middleware(KeyEcho)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return with_key_header(generate())

    app.openapi = openapi  # type: ignore[method-assign]
