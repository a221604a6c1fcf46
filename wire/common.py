"""Bodies shared by several routes, and the page every list answers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.values import CommitSha, GitContext, Name, Text
from projections.paging import window

T = TypeVar("T")
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
"""What a write's `Idempotency-Key` may be: printable ASCII without spaces."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GitFields(Body):
    git_repo: Name
    git_ref: Name
    git_commit_sha: CommitSha
    git_commit_message: Text = ""
    git_author: Annotated[str, Field(max_length=320)] = ""

    def git(self) -> GitContext:
        return GitContext(
            repo=self.git_repo,
            ref=self.git_ref,
            commit_sha=self.git_commit_sha,
            commit_message=self.git_commit_message,
            author=self.git_author,
        )


class Page(BaseModel, Generic[T]):
    """Every list answers one page of this envelope."""

    items: list[T]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )

    @classmethod
    def window(cls, rows: Sequence[T], limit: int, cursor: int | None) -> Page[T]:
        items, next_cursor = window(rows, limit, cursor)
        return cls(items=items, next_cursor=next_cursor)


def request_hash(path: str, body: bytes) -> str:
    """SHA-256 of the path and the body as canonical JSON (keys sorted, no spaces), so a retry
    that only reorders or reformats the body is the same request."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(path.encode() + b"\n" + canonical).hexdigest()
