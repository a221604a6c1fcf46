"""JetDeck scaled out on a 3-node cluster: two API processes and two gateways, each with its own
read models, every one started as a real process that dies with the test run (`lifeline`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from api.app import CONNECTION_NAME
from infra.embedded_cluster import EmbeddedCluster, spec_of
from infra.embedded_server import EmbeddedServer, free_port
from infra.lifeline import lifeline
from tests.e2e.conftest import ROOT, Proc
from tests.tokens import ADMIN_TOKEN
from workers.cluster import REPLICAS

API_REPLICAS = 2
WRITE_TIMEOUT_S = 3.0
"""The APIs' JETDECK_WRITE_TIMEOUT_S: a write NATS does not confirm by then answers 503."""
START_WITHIN_S = 90.0
"""Generous: five interpreters and three servers share two cores."""


async def _holds(
    client: httpx.AsyncClient, node: EmbeddedServer, name: str, links: set[tuple[int, int]]
) -> bool:
    """Whether `node` serves a connection called `name` from one of these (local port, server
    port) links: a local port alone may be in use towards two servers at once."""
    url = f"http://127.0.0.1:{spec_of(node).monitor_port}/connz"
    connz = (await client.get(url, params={"limit": 4096})).raise_for_status().json()
    return any(
        c.get("name") == name and (c["port"], node.port) in links for c in connz["connections"]
    )


async def spawn(name: str, args: list[str], log: Path, env: dict[str, str]) -> Proc:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ | env,
            preexec_fn=lifeline(),
        )
    return Proc(name, process, log)


@dataclass
class Deck:
    cluster: EmbeddedCluster
    root: Path
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(API_REPLICAS)])
    apis: list[Proc] = field(default_factory=list)
    gateways: list[Proc] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def env(self, replica: int) -> dict[str, str]:
        runtime = self.cluster.logins.runtime
        return {
            "JETDECK_NATS_URL": self.cluster.address,
            "JETDECK_NATS_USER": runtime.user,
            "JETDECK_NATS_PASSWORD": runtime.password,
            "JETDECK_REPLICAS": str(REPLICAS),
            "JETDECK_DATA_DIR": str(self.root / f"data-{replica}"),
            "JETDECK_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
            "JETDECK_EXPECTED_WORKERS": '["gateway"]',
            "JETDECK_WRITE_SNAPSHOTS": "true" if replica == 0 else "false",
            "JETDECK_WRITE_TIMEOUT_S": str(WRITE_TIMEOUT_S),
        }

    async def start_api(self, replica: int) -> None:
        args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1"]
        args += ["--port", str(self.ports[replica]), "--log-level", "warning"]
        log = self.root / f"api-{replica}.log"
        proc = await spawn(f"api-{replica}", args, log, self.env(replica))
        self._put(self.apis, replica, proc)

    async def start_gateway(self, replica: int) -> None:
        log = self.root / f"gateway-{replica}.log"
        proc = await spawn(f"gateway-{replica}", ["-m", "workers.gateway"], log, self.env(replica))
        self._put(self.gateways, replica, proc)

    @staticmethod
    def _put(procs: list[Proc], replica: int, proc: Proc) -> None:
        if replica < len(procs):
            procs[replica] = proc
        else:
            procs.append(proc)

    async def start(self) -> None:
        """The first API alone, so one process makes the shared secrets and the admin token,
        then the other API and both gateways."""
        await self.start_api(0)
        await self.ready(0, "/api/health/live")
        await asyncio.gather(self.start_api(1), self.start_gateway(0), self.start_gateway(1))
        await self.all_ready()

    async def ready(self, replica: int, probe: str = "/api/health/ready") -> None:
        """Until the replica's `probe` answers 200 (ready: its read models caught up, a gateway
        heard from), failing early if the process died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WITHIN_S
        answer = "no answer"
        async with httpx.AsyncClient(base_url=self.urls[replica], timeout=5) as client:
            while loop.time() < deadline:
                proc = self.apis[replica]
                assert proc.alive, f"{proc.name} exited:\n{proc.output()}"
                try:
                    response = await client.get(probe)
                    if response.status_code == httpx.codes.OK:
                        return
                    answer = response.text
                except httpx.TransportError as exc:
                    answer = repr(exc)
                await asyncio.sleep(0.1)
        raise AssertionError(f"api-{replica}: {probe} not 200 within {START_WITHIN_S}s: {answer}")

    async def all_ready(self) -> None:
        """Every process back and both APIs ready: what each test starts from and leaves."""
        for n, proc in enumerate(self.gateways):
            if not proc.alive:
                await self.start_gateway(n)
        for n, proc in enumerate(self.apis):
            if not proc.alive:
                await self.start_api(n)
        for node in self.cluster.nodes:
            if node.process is None or node.process.returncode is not None:
                await self.cluster.restart(node)
        await asyncio.gather(*(self.ready(n) for n in range(API_REPLICAS)))

    async def node_of(self, replica: int, within_s: float = 30) -> EmbeddedServer:
        """The nats-server the API replica's own connection is on, the one its writes go
        through. Its snapshot writer's second connection may be on another node: after an
        earlier test's failover each connection went its own way. Asked again while the
        connection is between servers (none holds it)."""
        process = psutil.Process(self.apis[replica].process.pid)
        deadline = asyncio.get_running_loop().time() + within_s
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                connections = process.net_connections("tcp")
                links = {(c.laddr.port, c.raddr.port) for c in connections if c.raddr}
                nodes = self.cluster.nodes
                held = [await _holds(client, node, CONNECTION_NAME, links) for node in nodes]
                found = [node for node, holds in zip(nodes, held, strict=True) if holds]
                if len(found) == 1 or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.2)
        assert len(found) == 1, f"API {replica}'s connection is held by {len(found)} servers"
        return found[0]

    async def stop(self) -> None:
        await asyncio.gather(*(proc.stop() for proc in [*self.apis, *self.gateways]))

    def log_sizes(self) -> dict[Path, int]:
        return {proc.log: proc.log.stat().st_size for proc in [*self.apis, *self.gateways]}

    def outputs(self, since: dict[Path, int]) -> str:
        """What each process wrote after `since` (its log's size then)."""
        parts = []
        for proc in [*self.apis, *self.gateways]:
            with proc.log.open("rb") as log:
                log.seek(since.get(proc.log, 0))
                parts.append(f"----- {proc.name} -----\n{log.read().decode(errors='replace')}")
        return "\n".join(parts)


async def killed(proc: Proc) -> None:
    """SIGKILL, and until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        proc.process.kill()
    await proc.process.wait()
