"""The event catalog, from the command line and from the API, names every event type."""

from __future__ import annotations

import httpx
import orjson
from fastapi import FastAPI

from domain.catalog import EVENT_TYPES
from tests.api.conftest import http_client
from tests.cli.conftest import jetdeck


async def test_catalog_lists_every_type_with_its_version_and_fields() -> None:
    found = await jetdeck("events", "catalog", "--json")
    assert found.exit_code == 0, found.output
    entries = {e["type"]: e for e in orjson.loads(found.stdout)}
    assert set(entries) == set(EVENT_TYPES)
    assert entries["job.Claimed"]["version"] == EVENT_TYPES["job.Claimed"].class_version
    assert "agent_id" in entries["job.Claimed"]["fields"]
    table = await jetdeck("events", "catalog")
    assert "job.Claimed" in table.stdout


async def test_asyncapi_document_names_every_event_type(client: httpx.AsyncClient) -> None:
    served = client.get("/api/events/asyncapi.json")
    document = (await served).json()
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == set(EVENT_TYPES)
    for channel in document["channels"].values():
        names = {part[1:-1] for part in channel["address"].split(".") if part.startswith("{")}
        assert names == set(channel["parameters"])  # the spec wants every one declared
    printed = await jetdeck("events", "catalog", "--asyncapi")
    assert orjson.loads(printed.stdout) == document


async def test_asyncapi_document_needs_read_permission(app: FastAPI) -> None:
    async with http_client(app, token=None) as anonymous:
        assert (await anonymous.get("/api/events/asyncapi.json")).status_code == 401
