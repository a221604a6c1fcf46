"""The public event catalog: every event type, its versions and fields, and the same facts as an
AsyncAPI 3.0 document for the NATS side.

Built from the pydantic models directly rather than through FastStream's documentation-only
publishers: FastStream leaves out the channel `parameters` map the AsyncAPI spec requires
(research: replay.md §2.4), and the whole document is a few dictionaries.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from pydantic.json_schema import models_json_schema

from domain.catalog import EVENT_TYPES
from domain.model import DomainEvent

SCHEMAS = "#/components/schemas/{model}"
ENVELOPE_FIELDS = ("type", "v", "actor", "command_id", "action", "correlation_id", "prev")


class CatalogEntry(NamedTuple):
    type: str
    version: int
    """The class version events are written with today."""
    upcasts_from: list[int]
    """Older versions still read: each is lifted by an `upcast_vN_vN+1` step."""
    fields: list[str]
    address: str


def address(name: str, cls: type[DomainEvent]) -> str:
    """The subject pattern events of this type are stored on."""
    kind = name.split(".", 1)[0]
    routed = cls.subject_token is not DomainEvent.subject_token
    return f"ev.{kind}.{{aggregate_id}}.{'{routing}' if routed else cls.__name__.lower()}"


def entries() -> list[CatalogEntry]:
    return [
        CatalogEntry(
            name,
            cls.class_version,
            list(range(1, cls.class_version)),
            list(cls.model_fields),
            address(name, cls),
        )
        for name, cls in EVENT_TYPES.items()
    ]


def message_key(name: str, cls: type[DomainEvent]) -> str:
    return f"{name}.v{cls.class_version}"


@cache
def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0.0: one channel and one `send` operation per event type."""
    keys, defs = models_json_schema(
        [(cls, "serialization") for cls in EVENT_TYPES.values()], ref_template=SCHEMAS
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, cls in EVENT_TYPES.items():
        key = message_key(name, cls)
        messages[key] = _message(name, cls, keys[(cls, "serialization")])
        channels[name] = _channel(name, cls, key)
        operations[key] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "JetDeck events",
            "version": "0.1.0",
            "description": "Every event JetDeck appends to the EVENTS stream (one JSON "
            "envelope per message, hash-chained per aggregate).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _channel(name: str, cls: type[DomainEvent], key: str) -> dict[str, Any]:
    subject = address(name, cls)
    parameters: dict[str, Any] = {"aggregate_id": {"description": "The aggregate's id."}}
    if "{routing}" in subject:
        parameters["routing"] = {"description": "`created`, or `queued.<pool>.<priority>`."}
    return {
        "address": subject,
        "title": f"{name} v{cls.class_version}",
        "parameters": parameters,
        "messages": {key: {"$ref": f"#/components/messages/{key}"}},
    }


def _message(name: str, cls: type[DomainEvent], data_schema: dict[str, Any]) -> dict[str, Any]:
    envelope: dict[str, Any] = {field: {"type": "string"} for field in ENVELOPE_FIELDS}
    envelope["type"] = {"const": name}
    envelope["v"] = {"const": cls.class_version}
    envelope["request_hash"] = {"type": "string", "description": "SHA-256 of the API request."}
    return {
        "name": name,
        "title": f"{name} v{cls.class_version}",
        "summary": (cls.__doc__ or name).strip().splitlines()[0],
        "payload": {
            "type": "object",
            "required": [*ENVELOPE_FIELDS, "data"],
            "properties": envelope | {"data": data_schema},
        },
    }
