"""Where a client's page stands, as an SSE id: `S`, the stream sequence of the read models' state
its panels show; on a job page `S.L`, with L the LOGS sequence of the last log chunk it shows.
The page names it in `?after=` (the state it was rendered at), a reconnecting EventSource in
`Last-Event-ID` (the last message it took), which wins."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.exceptions import RequestValidationError

ID = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,18}))?")


@dataclass(frozen=True, slots=True)
class Cursor:
    state: int
    log: int = 0

    def text(self, with_log: bool) -> str:
        return f"{self.state}.{self.log}" if with_log else str(self.state)


def parse(value: str, where: tuple[str, str]) -> Cursor:
    """A 422 like any bad parameter's, naming `where` (("query", "after"), say)."""
    found = ID.fullmatch(value)
    if found is None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": where,
                    "msg": "must be a stream sequence S, or S.L on a job page",
                    "input": value[:40],
                }
            ]
        )
    return Cursor(int(found[1]), int(found[2] or 0))


def resume_point(after: str | None, last_event_id: str | None) -> Cursor:
    """Both absent: the client shows nothing yet (0), so it gets the page's panels at once."""
    if last_event_id:
        return parse(last_event_id, ("header", "Last-Event-ID"))
    if after:
        return parse(after, ("query", "after"))
    return Cursor(0)
