"""`jetdeck`: the operator's command line (typer + rich), talking to NATS directly."""
