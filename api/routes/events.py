"""The event catalog as an AsyncAPI 3.0 document: what JetDeck writes to NATS, for consumers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import PROTECTED, Reading
from infra.event_catalog import asyncapi_document

router = APIRouter(
    prefix="/api/events", tags=["events"], dependencies=[Reading], responses=PROTECTED
)


@router.get("/asyncapi.json")
async def asyncapi() -> dict[str, Any]:
    return asyncapi_document()
