"""The event catalog as an AsyncAPI 3.0 document: what JetDeck writes to NATS, for consumers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import PROTECTED, Reading
from infra.event_catalog import asyncapi_document

router = APIRouter(
    prefix="/api/events", tags=["events"], dependencies=[Reading], responses=PROTECTED
)


EXAMPLE = {
    "asyncapi": "3.0.0",
    "info": {"title": "JetDeck events", "version": "0.1.0"},
    "defaultContentType": "application/json",
    "channels": {
        "job.Created": {
            "address": "ev.job.{aggregate_id}.{routing}",
            "messages": {"job.Created.v2": {"$ref": "#/components/messages/job.Created.v2"}},
        }
    },
    "operations": {},
    "components": {"messages": {}, "schemas": {}},
}


@router.get(
    "/asyncapi.json",
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}},
)
async def asyncapi() -> dict[str, Any]:
    return asyncapi_document()
