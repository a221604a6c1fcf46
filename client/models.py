"""What calls answer. Read models are the server's own pydantic classes, shared, not copied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, TypeAdapter

from client._http import KEY_HEADER

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Json = dict[str, Any]
"""An answer whose model the API defines next to its route, out of the client's reach."""


class Page(NamedTuple, Generic[T]):
    """One page of the `{items, next_cursor}` envelope every list answers."""

    items: list[T]
    next_cursor: int | None


@dataclass(frozen=True)
class Receipt:
    """A write's answer: its body, and the key it ran under (resend it to retry by hand)."""

    body: Json
    idempotency_key: str | None

    @property
    def seq(self) -> int:
        """The stream sequence of the write: pass as `min_seq` to read it back."""
        return int(self.body["seq"])

    @property
    def status(self) -> str:
        return str(self.body["status"])

    @property
    def id(self) -> UUID:
        """The id of the job, deployment or agent written."""
        return UUID(next(v for k, v in self.body.items() if k.endswith("_id")))


def receipt(response: httpx.Response) -> Receipt:
    return Receipt(response.json(), response.headers.get(KEY_HEADER))


def json(response: httpx.Response) -> Json:
    body: Json = response.json()
    return body


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def page(cls: type[T]) -> Callable[[httpx.Response], Page[T]]:
    items: TypeAdapter[list[T]] = TypeAdapter(list[cls])  # type: ignore[valid-type]

    def parse(response: httpx.Response) -> Page[T]:
        body = response.json()
        return Page(items.validate_python(body["items"]), body["next_cursor"])

    return parse
