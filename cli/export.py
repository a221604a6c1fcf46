"""`jetdeck export`: every event with its sequence, subject, times, actor, ids and hashes."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from nats.aio.client import Client

from cli.common import DEFAULT_DATA_DIR, DataDir, Meter, NatsUrl, fail, run
from cli.events import parse_time, record_of
from cli.export_format import FORMATS, event_line, manifest
from cli.link import last_seq, read_events, seq_at
from infra.layout import EVENTS

NEWLINE = orjson.OPT_APPEND_NEWLINE


def export(
    since: Annotated[
        str | None, typer.Option(help="ISO time; default: from the first event")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="cloudevents or jsonl")] = "cloudevents",
    nats_url: NatsUrl = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Write the event log to stdout, one JSON line per event, then a manifest line.

    The output is JSON lines whatever you pass, so there is no --json flag."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    out = sys.stdout.buffer

    async def work(nc: Client) -> None:
        start = 1 if since is None else await seq_at(nc, parse_time(since))
        stop = await last_seq(nc)
        digest = hashlib.sha256()
        first: int | None = None
        with Meter("exporting", max(stop - start + 1, 0), quiet=False) as meter:
            async for stored in read_events(nc, start, stop):
                line = orjson.dumps(
                    event_line(record_of(stored), fmt), option=orjson.OPT_APPEND_NEWLINE
                )
                digest.update(line)
                out.write(line)
                first = stored.seq if first is None else first
                meter.tick()
        facts: dict[str, Any] = {
            "stream": EVENTS,
            "first_seq": first,
            "last_seq": stop if first is not None else None,
            "count": meter.count,
            "sha256": digest.hexdigest(),
            "exported_at": datetime.now(UTC).isoformat(),
            "command": sys.argv,
        }
        out.write(orjson.dumps(manifest(fmt, facts), option=NEWLINE))
        out.flush()

    run(nats_url, data_dir, work)
