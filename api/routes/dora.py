"""The dashboard's DORA metrics, computed on each read from a small history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import reads
from api.auth import PROTECTED, Reading
from api.deps import Instant, Reader
from wire.dora import DoraMetrics, DoraWindow

router = APIRouter(
    prefix="/api/dashboard/metrics", tags=["dashboard"], dependencies=[Reading], responses=PROTECTED
)


@router.get("/dora")
async def dora_metrics(
    services: Reader,
    end: Instant,
    service: Annotated[
        str | None, Query(max_length=200, description="One service's figures; all by default.")
    ] = None,
    days: Annotated[DoraWindow, Query(description="The window, in days.")] = DoraWindow.MONTH,
) -> DoraMetrics:
    """Deployment frequency, lead time for changes, change failure rate and time to restore
    over the `days` up to now, or up to the `as_of` point. Each figure's definition is its
    field's description."""
    return reads.dora_metrics(services, end, days, service)
