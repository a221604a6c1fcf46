"""The list parameters every list route takes; the bodies themselves are in `wire`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items.")]
Cursor = Annotated[
    int | None, Query(ge=1, description="The `next_cursor` of the page before; none: the first.")
]
