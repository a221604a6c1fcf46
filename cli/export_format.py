"""The export file: one event per line, as a CloudEvents 1.0 structured JSON event or as a plain
JetDeck JSON line, then a manifest line (count, sequence range and SHA-256 of the lines before
it), so a truncated or spliced file is refused.

Both formats carry the stored content bytes (base64; the payload without its MAC, which is the
writer key's and not the log's), so an import restores them exactly, re-sealed with the target
store's key, and the chain hashes come out the same; `data` is the envelope's data as stored.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import orjson

from cli.events import Record
from cli.link import CliError
from infra.codec import content_of
from infra.layout import EVENTS

CLOUDEVENTS = "cloudevents"
JSONL = "jsonl"
FORMATS = (CLOUDEVENTS, JSONL)
MANIFEST_TYPE = "dev.jetdeck.export.manifest"
SOURCE = f"jetdeck://jetdeck/{EVENTS}"


class Line(NamedTuple):
    """What an import needs from one line, whichever the format."""

    seq: int
    subject: str
    msg_id: str | None
    content: bytes
    hash: str | None
    data: Any
    """The `data` shown to readers, which must be the content's; None when the line has none."""


def event_line(record: Record, fmt: str) -> dict[str, Any]:
    return cloudevent(record) if fmt == CLOUDEVENTS else plain(record)


def cloudevent(record: Record) -> dict[str, Any]:
    stored, event = record.stored, record.event
    out: dict[str, Any] = {
        "specversion": "1.0",
        "id": stored.msg_id or f"seq-{stored.seq}",
        "source": SOURCE,
        "type": "dev.jetdeck.unknown" if event is None else f"dev.jetdeck.{event.type.lower()}",
        "sequence": f"{stored.seq:020d}",  # the extension wants a lexically ordered string
        "jdsubject": stored.subject,
        "jdstreamtime": stored.stream_time,
        "jdcontent": base64.b64encode(content_of(stored.payload)).decode(),
    }
    if stored.msg_id is not None:
        out["jdmsgid"] = stored.msg_id
    if event is None:
        return out
    cause = event.cause
    return out | {
        "subject": f"{event.kind}/{event.aggregate_id}",
        "time": event.at.isoformat(),
        "datacontenttype": "application/json",
        "data": orjson.loads(stored.payload)["data"],
        "jdactor": cause.actor,
        "jdcommandid": cause.command_id,
        "jdaction": cause.action,
        "jdcorrelationid": cause.correlation_id,
        "jdversion": type(event.event).class_version,
        "jdprev": event.prev,
        "jdhash": event.hash,
    }


def plain(record: Record) -> dict[str, Any]:
    stored, event = record.stored, record.event
    out: dict[str, Any] = {
        "seq": stored.seq,
        "subject": stored.subject,
        "stream_time": stored.stream_time,
        "msg_id": stored.msg_id,
        "content": base64.b64encode(content_of(stored.payload)).decode(),
    }
    if event is None:
        return out
    envelope = orjson.loads(stored.payload)
    return out | {
        "time": event.at.isoformat(),
        "type": event.type,
        "v": envelope["v"],
        "actor": event.cause.actor,
        "command_id": event.cause.command_id,
        "action": event.cause.action,
        "correlation_id": event.cause.correlation_id,
        "prev": event.prev,
        "hash": event.hash,
        "data": envelope["data"],
    }


def manifest(fmt: str, facts: dict[str, Any]) -> dict[str, Any]:
    if fmt == JSONL:
        return {"manifest": facts}
    return {
        "specversion": "1.0",
        "id": "manifest",
        "source": SOURCE,
        "type": MANIFEST_TYPE,
        "datacontenttype": "application/json",
        "data": facts,
    }


def manifest_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    if "manifest" in raw:
        found: dict[str, Any] = raw["manifest"]
        return found
    if raw.get("type") == MANIFEST_TYPE:
        data: dict[str, Any] = raw["data"]
        return data
    return None


def parse_line(raw: dict[str, Any]) -> Line:
    """One event line of either format; a line that lacks what an import needs is refused."""
    try:
        if "specversion" in raw:
            return Line(
                int(raw["sequence"]),
                raw["jdsubject"],
                raw.get("jdmsgid"),
                base64.b64decode(raw["jdcontent"], validate=True),
                raw.get("jdhash"),
                raw.get("data"),
            )
        return Line(
            int(raw["seq"]),
            raw["subject"],
            raw.get("msg_id"),
            base64.b64decode(raw["content"], validate=True),
            raw.get("hash"),
            raw.get("data"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"not an exported event: {exc!r}", 1) from exc
