"""`make run`: the embedded nats-server (unless JETDECK_NATS_URL is set), the layout step, the API
and the workers.

The layout step alone uses the layout (admin) credential; the API and the workers get the runtime
one. The embedded server's credentials are made at its first start (`infra.nats_auth`).

Ctrl-C stops the API, then the workers, then the server; the server's data under the data
directory survives a restart. Whatever kills this process, its children die with it
(`infra.lifeline`); a worker that exits on its own is restarted (`workers.supervision`). One
JetDeck at a time holds a data directory, and a port in use stops the start with the name of the
process holding it (`infra.exclusive`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from api.app import create_app
from domain.errors import InUseError
from infra import runtime
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.exclusive import data_dir_lock, require_free
from infra.layout import apply_layout
from infra.lifeline import lifeline
from infra.logging_setup import configure_logging
from infra.metrics import worker_metrics_port
from infra.settings import Settings
from infra.worker_beats import exited
from workers.supervision import RestartPolicy, Supervised

WORKERS: list[str] = [
    "workers.gateway",
    "workers.health_monitor",
    "workers.dead_letters",
    "workers.checkpointer",
]
"""Modules run as `python -m <module>` beside the API."""

log = logging.getLogger("jetdeck")


async def run(settings: Settings) -> None:
    with data_dir_lock(settings.data_dir):
        await run_locked(settings)


async def run_locked(settings: Settings) -> None:
    require_free(settings.api_port, "the API", settings.api_host)
    for module in WORKERS:
        name = module.removeprefix("workers.")
        port = worker_metrics_port(settings, name)
        if port is not None:
            require_free(port, f"the metrics of worker {name}", settings.metrics_host)
    server: EmbeddedServer | None = None
    if settings.nats_url is None:
        require_free(settings.nats_port, "the embedded nats-server")
        server = EmbeddedServer(settings.data_dir / "nats", settings.nats_port)
        await server.start()
        log.info("embedded nats-server on %s, data in %s", server.address, server.store_dir)
        settings = embedded(settings, server)
    try:
        await apply_layout(
            settings.server_url, settings.layout_login, settings.replicas, settings.log_max_age_s
        )
        runtime = settings.model_copy(update={"nats_admin_user": None, "nats_admin_password": None})
        if settings.restore_from is not None:
            await restore(runtime, settings.restore_from)
        await serve(runtime)
    finally:
        if server is not None:
            await server.stop()


def embedded(settings: Settings, server: EmbeddedServer) -> Settings:
    """Settings naming the embedded server and its runtime and layout credentials."""
    runtime, admin = server.logins.runtime, server.logins.admin
    return settings.model_copy(
        update={
            "nats_url": server.address,
            "nats_user": runtime.user,
            "nats_password": SecretStr(runtime.password),
            "nats_admin_user": admin.user,
            "nats_admin_password": SecretStr(admin.password),
        }
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """This process's environment with the server and the runtime credential; never the layout
    credential, even when it came from this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_NATS_ADMIN_")}
    env["JETDECK_NATS_URL"] = settings.server_url
    login = settings.nats_login
    if login is not None:
        env |= {"JETDECK_NATS_USER": login.user, "JETDECK_NATS_PASSWORD": login.password}
    return env


async def restore(settings: Settings, backup: Path) -> None:
    """`jetdeck import` of `backup`, before anything else can write to the store."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "import",
        str(backup),
        env=worker_env(settings),
        preexec_fn=lifeline(),
    )
    if await process.wait() != 0:
        raise SystemExit(f"restoring {backup} failed (see above); nothing was started")
    log.info("restored %s", backup)


async def serve(settings: Settings) -> None:
    """The workers and the API until a signal, or until a worker crash-loops (SystemExit 1);
    `settings` hold the runtime credential only."""
    env = worker_env(settings)
    notices = await connect(settings.server_url, "jetdeck-supervisor", settings.nats_login)

    async def gone(module: str, pid: int) -> None:
        await exited(notices, module.removeprefix("workers."), pid)

    workers = [Supervised(module, env, RestartPolicy(), gone) for module in WORKERS]
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        log_config=None,  # its loggers go through ours (configure_logging)
    )
    api = uvicorn.Server(config)
    failures: list[BaseException] = []

    def on_exit(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception() or RuntimeError("worker task failed"))
            api.should_exit = True

    watched = [asyncio.create_task(worker.run()) for worker in workers]
    for task in watched:
        task.add_done_callback(on_exit)
    # uvicorn restores the handlers it found and then raises the signal it caught again; with the
    # default handlers that would end this process before it stops the workers and the server, so
    # the ones it finds let the signal pass.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        await api.serve()
    finally:
        for worker in workers:
            await worker.stop()
        for task in watched:
            task.cancel()
        await asyncio.gather(*watched, return_exceptions=True)
        await notices.close()
    if failures:
        raise SystemExit(str(failures[0]))


def main() -> None:
    configure_logging()
    try:
        runtime.run(run(Settings()))
    except InUseError as exc:
        raise SystemExit(f"jetdeck: {exc}") from None


if __name__ == "__main__":
    main()
