"""The `jetdeck` command run in process (typer's CliRunner) against the suite's nats-server.

Each call runs in a worker thread: the command starts its own event loop with `asyncio.run`,
while the test's loop keeps serving the API app the test writes through."""

from __future__ import annotations

import asyncio
from typing import Any

from typer.testing import CliRunner, Result

from cli.main import app as cli_app
from tests.api.conftest import app, client, services, settings  # noqa: F401  (API fixtures)


async def jetdeck(*args: Any) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli_app, [str(a) for a in args])

    return await asyncio.to_thread(invoke)
