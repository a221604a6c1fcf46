"""Request and response bodies shared by several routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from domain.values import CommitSha, GitContext, Metadata, Name, Text
from projections.paging import window

T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items.")]
Cursor = Annotated[
    int | None, Query(ge=1, description="The `next_cursor` of the page before; none: the first.")
]


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


class JobCreate(GitFields):
    job_type: Name
    metadata: Metadata = {}


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
