"""`jetdeck audit log`: who did what, filtered on the server by subject where it can."""

from __future__ import annotations

from typing import Annotated

import typer
from nats.aio.client import Client
from rich.table import Column, Table

from cli.common import DEFAULT_DATA_DIR, DataDir, Json, Meter, NatsUrl, emit, out_console, run
from cli.events import Record, parse_time, record_of
from cli.link import CliError, last_seq, read_events, seq_at
from domain.catalog import AGGREGATES
from infra.layout import EVENT_SUBJECTS

COLUMNS = ("seq", "time", "actor", "type", "subject", "command_id", "correlation_id")


def subject_filter(aggregate: str | None) -> str:
    """`KIND` or `KIND/ID` as the subject filter of that aggregate kind or that one aggregate."""
    if aggregate is None:
        return EVENT_SUBJECTS
    kind, _, aggregate_id = aggregate.partition("/")
    if kind not in AGGREGATES:
        raise CliError(f"unknown aggregate kind {kind!r}; known: {', '.join(AGGREGATES)}")
    if aggregate_id and any(c in aggregate_id for c in ".*> "):
        raise CliError(f"not an aggregate id: {aggregate_id!r}")
    return f"ev.{kind}.{aggregate_id or '*'}.>"


def matches(record: Record, actor: str | None, event_type: str | None) -> bool:
    event = record.event
    if actor is not None and (event is None or event.cause.actor != actor):
        return False
    return event_type is None or (event is not None and event.type == event_type)


async def seq_range(nc: Client, since: str | None, until: str | None) -> tuple[int, int]:
    """`--since`/`--until` as the first and last sequence to read (the server's clock)."""
    start = 1 if since is None else await seq_at(nc, parse_time(since))
    stop = await last_seq(nc) if until is None else await seq_at(nc, parse_time(until)) - 1
    return start, stop


def audit_log(
    actor: Annotated[str | None, typer.Option(help="Only this principal, e.g. user:a@b.c")] = None,
    aggregate: Annotated[str | None, typer.Option(help="KIND or KIND/ID, e.g. job/<uuid>")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="e.g. job.Created")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, exclusive")] = None,
    nats_url: NatsUrl = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    json_out: Json = False,
) -> None:
    """Who did what: every event with its actor, command and correlation ids."""

    async def work(nc: Client) -> list[Record]:
        subject = subject_filter(aggregate or (event_type and event_type.split(".", 1)[0]))
        start, stop = await seq_range(nc, since, until)
        found: list[Record] = []
        total = max(stop - start + 1, 0) if subject == EVENT_SUBJECTS else None
        with Meter("reading", total, quiet=json_out) as meter:
            async for stored in read_events(nc, start, stop, subject):
                meter.tick()
                record = record_of(stored)
                if matches(record, actor, event_type):
                    found.append(record)
                    if json_out:
                        emit(record.row())
        return found

    found = run(nats_url, data_dir, work)
    if not json_out:
        show(found)


def show(records: list[Record]) -> None:
    table = Table(*(Column(c.replace("_", " "), overflow="fold") for c in COLUMNS))
    for record in records:
        row = record.row()
        table.add_row(*("" if row[c] is None else str(row[c]) for c in COLUMNS))
    out_console().print(table)
