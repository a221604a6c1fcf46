"""The dashboard's front page in one call."""

from __future__ import annotations

from fastapi import APIRouter

from api import reads
from api.auth import PROTECTED, Reading
from api.deps import Reader
from projections.summary import Summary

router = APIRouter(
    prefix="/api/dashboard", tags=["dashboard"], dependencies=[Reading], responses=PROTECTED
)


@router.get("/summary")
async def summary(services: Reader) -> Summary:
    return reads.summary(services)
