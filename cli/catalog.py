"""`jetdeck events catalog`: every event type with its versions and fields, or as AsyncAPI."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.common import Json, emit, out_console
from infra.event_catalog import asyncapi_document, entries


def catalog(
    asyncapi: Annotated[bool, typer.Option("--asyncapi", help="The AsyncAPI 3.0 document")] = False,
    json_out: Json = False,
) -> None:
    """Every event type JetDeck writes: versions read, fields, subject."""
    if asyncapi:
        emit(asyncapi_document())
    elif json_out:
        emit([entry._asdict() for entry in entries()])
    else:
        table = Table("type", "version", "upcast from", "fields", "subject")
        for entry in entries():
            older = ", ".join(f"v{n}" for n in entry.upcasts_from) or "-"
            table.add_row(
                entry.type, f"v{entry.version}", older, ", ".join(entry.fields), entry.address
            )
        out_console().print(table)
