"""Value objects shared by several aggregates."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
ExitCode = Annotated[int, Field(ge=-(2**31), le=2**32 - 1)]
ShortText = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
CommitSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
Metadata = Annotated[
    dict[Name, Annotated[str, StringConstraints(max_length=2_000)]], Field(max_length=64)
]


class GitContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: ShortText = ""
    ref: ShortText = ""
    commit_sha: CommitSha
    commit_message: Text = ""
    author: Annotated[str, StringConstraints(max_length=320)] = ""


def is_sequence_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also passes "²" and other digits `int` refuses, which
    turned a bad query parameter or header into a 500."""
    return text.isascii() and text.isdigit()
