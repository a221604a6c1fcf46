"""Job logs: an append, what it answers, and one chunk as a read answers it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from wire.common import Body
from wire.queue import LeaseCall

MAX_CHUNKS = 256
"""Chunks in one append."""
MAX_TEXT = 32_768
"""Characters in one chunk; a longer line is sent as several chunks."""


class ChunkIn(Body):
    stream: Literal["stdout", "stderr"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class LogWrite(LeaseCall):
    chunks: Annotated[list[ChunkIn], Field(min_length=1, max_length=MAX_CHUNKS)]
    offset: Annotated[int | None, Field(ge=0)] = None
    """Index of the first chunk among all chunks this claim sent; a retried batch with the same
    offset is stored once."""


class LogWritten(BaseModel):
    job_id: UUID
    first_seq: int
    last_seq: int


class LogLine(BaseModel):
    seq: int
    stream: str
    text: str
    time: datetime
    attempt: int
