"""The `jetdeck` command: audit, export and import, replay and rebuild, the event catalog.

Exit codes: 0 fine, 1 findings (a verification failure, a refused import file), 2 usage or
connection errors.
"""

from __future__ import annotations

import typer

from cli.audit_log import audit_log
from cli.catalog import catalog
from cli.export import export
from cli.oversight import pubkey, verify
from cli.replay import rebuild_snapshot, replay
from cli.restore import import_events

app = typer.Typer(
    name="jetdeck", help="Operate JetDeck's event log.", no_args_is_help=True, add_completion=False
)
audit = typer.Typer(help="The audit trail.", no_args_is_help=True)
events = typer.Typer(help="The event types.", no_args_is_help=True)
app.add_typer(audit, name="audit")
app.add_typer(events, name="events")
audit.command("log")(audit_log)
audit.command("pubkey")(pubkey)
audit.command("verify")(verify)
events.command("catalog")(catalog)
app.command("export")(export)
app.command("import")(import_events)
app.command("replay")(replay)
app.command("rebuild")(rebuild_snapshot)

if __name__ == "__main__":
    app()
