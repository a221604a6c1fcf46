"""`make run`: the embedded nats-server (unless JETDECK_NATS_URL is set), the API and the workers.

Ctrl-C stops the API, then the workers, then the server; the server's data under the data
directory survives a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import uvicorn

from api.app import create_app
from infra.embedded_server import EmbeddedServer
from infra.settings import Settings

WORKERS: list[str] = ["workers.gateway", "workers.health_monitor", "workers.dead_letters"]
"""Modules run as `python -m <module>` beside the API."""

log = logging.getLogger("jetdeck")


async def run(settings: Settings) -> None:
    server: EmbeddedServer | None = None
    if settings.nats_url is None:
        server = EmbeddedServer(settings.data_dir / "nats", settings.nats_port)
        await server.start()
        log.info("embedded nats-server on %s, data in %s", server.url, server.store_dir)
    env = os.environ | {"JETDECK_NATS_URL": settings.server_url}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=env, start_new_session=True
        )
        for module in WORKERS
    ]
    try:
        config = uvicorn.Config(
            create_app(settings.model_copy(update={"nats_url": settings.server_url})),
            host=settings.api_host,
            port=settings.api_port,
            log_level="info",
        )
        # uvicorn restores the handlers it found and then raises the signal it caught again; with
        # the default handlers that would end this process before it stops the workers and the
        # server, so the ones it finds let the signal pass.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        await uvicorn.Server(config).serve()
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
                await worker.wait()
        if server is not None:
            await server.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(Settings()))


if __name__ == "__main__":
    main()
