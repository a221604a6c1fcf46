"""Job logs: what an append answers, and one chunk as a read answers it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


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
