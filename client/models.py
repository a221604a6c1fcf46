"""What calls answer: the API's own pydantic models (`wire`, `projections`), shared, not copied,
each answer validated against its model; a write that records an event answers `Written`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from client._http import KEY_HEADER

M = TypeVar("M", bound=BaseModel)


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


S = TypeVar("S", bound=Sequenced)


@dataclass(frozen=True)
class Written(Generic[S]):
    """A write's answer (`value`, the API's model) and the key it ran under: resend the key to
    retry the same write by hand."""

    value: S
    idempotency_key: str

    @property
    def seq(self) -> int:
        """The stream sequence of the write: pass as `min_seq` to read it back."""
        return self.value.seq


def body(request: BaseModel) -> dict[str, Any]:
    """A request model as JSON, with only the fields the caller set: the server applies the same
    model's defaults, and some rules (a pending job queued by `job_id`) hinge on what is set."""
    return request.model_dump(mode="json", exclude_unset=True)


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def written(parse: Callable[[httpx.Response], S]) -> Callable[[httpx.Response], Written[S]]:
    return lambda response: Written(parse(response), response.request.headers[KEY_HEADER])
