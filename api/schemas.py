"""Request and response bodies shared by several routes."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from domain.values import CommitSha, GitContext, Metadata, Name, Text

T = TypeVar("T")
Limit = Annotated[int, Field(ge=1, le=500)]


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
    items: list[T]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )
