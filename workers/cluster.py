"""`make cluster`: the clustered layout on this machine, for anyone to try. Three nats-servers
routed to each other with R3 streams, `make run`'s supervisor against them (the API on
JETDECK_API_PORT and the workers) and a second API process on the port after it.

Everything lives under `<data_dir>/cluster`: each node's store in `nats/n1`..`nats/n3`, the
users they share in `nats/auth`, the admin token. Node clients listen on JETDECK_NATS_PORT and
the two ports after it, routes 10 above, monitoring (`/healthz`) 20 above, all on loopback.
Ctrl-C stops the APIs, then the nodes; whatever kills this process, its children die with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import httpx

from domain.errors import UnavailableError
from infra.embedded_cluster import SIZE, EmbeddedCluster, fixed_ports
from infra.layout import apply_layout
from infra.lifeline import lifeline
from infra.settings import Settings

REPLICAS = SIZE
"""Stream replicas: every node holds every stream."""
START_WITHIN_S = 120.0
Child = asyncio.subprocess.Process
log = logging.getLogger("jetdeck.cluster")


def environment(settings: Settings, cluster: EmbeddedCluster) -> dict[str, str]:
    """Both APIs' settings: the cluster, its runtime credential, R3 streams, one data directory
    (so the second API finds the admin token the first made)."""
    runtime = cluster.logins.runtime
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_NATS_")}
    return env | {
        "JETDECK_NATS_URL": cluster.address,
        "JETDECK_NATS_USER": runtime.user,
        "JETDECK_NATS_PASSWORD": runtime.password,
        "JETDECK_REPLICAS": str(REPLICAS),
        "JETDECK_DATA_DIR": str(settings.data_dir / "cluster"),
    }


async def child(*args: str, env: dict[str, str]) -> Child:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        start_new_session=True,  # Ctrl-C reaches this process, which stops them in order
        preexec_fn=lifeline(),
    )


async def serving(url: str, first: Child) -> None:
    """Until the first API answers, so that it alone makes the admin token."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_WITHIN_S
    async with httpx.AsyncClient(timeout=2) as client:
        while loop.time() < deadline and first.returncode is None:
            try:
                if (await client.get(f"{url}/api/health/live")).status_code == httpx.codes.OK:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the first API did not answer at {url} (see above)")


async def start_apis(settings: Settings, cluster: EmbeddedCluster) -> list[Child]:
    env = environment(settings, cluster)
    admin = cluster.logins.admin
    # The supervisor takes the layout step again (a no-op), as `make run` on a cluster does.
    layout = {"JETDECK_NATS_ADMIN_USER": admin.user, "JETDECK_NATS_ADMIN_PASSWORD": admin.password}
    first = await child("-m", "workers.supervisor", env=env | layout)
    children = [first]
    try:
        await serving(f"http://{settings.api_host}:{settings.api_port}", first)
        port = str(settings.api_port + 1)
        second = env | {"JETDECK_API_PORT": port, "JETDECK_WRITE_SNAPSHOTS": "false"}
        args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--log-level", "warning"]
        children.append(await child(*args, "--host", settings.api_host, "--port", port, env=second))
    except BaseException:
        await stop(children)
        raise
    return children


async def until_signal_or_exit(children: list[Child]) -> Child | None:
    """The child that exited on its own, or None after SIGINT or SIGTERM."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    waits = {asyncio.create_task(c.wait()): c for c in children}
    stopping = asyncio.create_task(signalled.wait())
    done, _ = await asyncio.wait([*waits, stopping], return_when=asyncio.FIRST_COMPLETED)
    for task in [*waits, stopping]:
        task.cancel()
    return next((waits[task] for task in done if task in waits), None)


async def stop(children: list[Child]) -> None:
    """The second API first, then the supervisor, which stops its workers."""
    for process in reversed(children):
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def laid_out(cluster: EmbeddedCluster, log_max_age_s: float) -> None:
    """The layout step, taken again until every stream answers: on a restart, each stream elects
    its leader only after the nodes report healthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_WITHIN_S
    while True:
        try:
            await apply_layout(cluster.address, cluster.logins.admin, REPLICAS, log_max_age_s)
            return
        except UnavailableError:
            if loop.time() > deadline:
                raise
            log.info("streams still electing their leaders")
            await asyncio.sleep(0.5)


async def run(settings: Settings) -> None:
    cluster = EmbeddedCluster(
        settings.data_dir / "cluster" / "nats", fixed_ports(settings.nats_port)
    )
    await cluster.start()
    try:
        await laid_out(cluster, settings.log_max_age_s)
        log.info("nats-servers on %s, R%d streams", cluster.address, REPLICAS)
        children = await start_apis(settings, cluster)
        ports = f"{settings.api_port} and {settings.api_port + 1}"
        log.info("APIs on %s:%s; Ctrl-C stops everything", settings.api_host, ports)
        exited = await until_signal_or_exit(children)
        await stop(children)
        if exited is not None:
            raise SystemExit(f"jetdeck: a child exited with {exited.returncode}; stopped")
    finally:
        await cluster.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every health poll
    asyncio.run(run(Settings()))


if __name__ == "__main__":
    main()
