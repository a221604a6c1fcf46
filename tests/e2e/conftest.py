"""Real processes: the API under uvicorn and reference agents, on the suite's nats-server.

Every test gets a pool of its own, so agents of one test never see another test's jobs. Each
process writes its output to a file that is printed when the test ends, so a failure shows it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from infra.embedded_server import EmbeddedServer, free_port
from tests.tokens import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
REGISTRATION_TOKEN = "e2e-registration-token-0123456789"
START_WITHIN_S = 30.0
API_ENV = {
    "JETDECK_REGISTRATION_TOKEN": REGISTRATION_TOKEN,
    "JETDECK_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
    # Agents beat every second, so drain and cancel instructions arrive soon; a busy test host
    # must neither make them unhealthy nor offline, which would take their jobs away.
    "JETDECK_HEALTH__HEARTBEAT_INTERVAL_S": "1",
    "JETDECK_HEALTH__MISSED_HEARTBEATS_UNHEALTHY": "20",
    "JETDECK_HEALTH__OFFLINE_AFTER_INTERVALS": "30",
    "JETDECK_HEALTH__DEGRADED_PCT": "99.8",
    "JETDECK_HEALTH__UNHEALTHY_PCT": "100",
}


@dataclass
class Proc:
    """A child process whose output goes to `log`."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            self.process.send_signal(sig)

    async def exit_code(self, within_s: float) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), within_s)
        except TimeoutError:
            pytest.fail(f"{self.name} did not exit within {within_s}s:\n{self.output()}")

    async def stop(self) -> None:
        if not self.alive:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def spawn(name: str, args: list[str], log: Path, env: dict[str, str]) -> Proc:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ | env,
        )
    return Proc(name, process, log)


@dataclass
class Api:
    url: str
    proc: Proc


async def _wait_until_serving(api: Api) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_WITHIN_S
    async with httpx.AsyncClient(base_url=api.url, timeout=2) as client:
        while loop.time() < deadline:
            assert api.proc.alive, f"the API exited:\n{api.proc.output()}"
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the API did not serve within {START_WITHIN_S}s:\n{api.proc.output()}")


@asynccontextmanager
async def serving_api(nats_url: str, log: Path, **env: str) -> AsyncIterator[Api]:
    """The API under uvicorn on a free port, with `API_ENV` and `env`, once it serves."""
    port = free_port()
    args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port)]
    args += ["--host", "127.0.0.1", "--log-level", "warning"]
    env = API_ENV | {"JETDECK_NATS_URL": nats_url} | env
    found = Api(f"http://127.0.0.1:{port}", await spawn("api", args, log, env))
    try:
        await _wait_until_serving(found)
        yield found
    finally:
        await found.proc.stop()


@pytest.fixture(scope="module")
async def api(
    nats_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    log = tmp_path_factory.mktemp("api") / "api.log"
    async with serving_api(nats_server.url, log) as found:
        yield found


@pytest.fixture
async def client(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, timeout=30, headers=headers) as client:
        yield client


@pytest.fixture
def pool() -> str:
    return f"e2e-{uuid4().hex[:10]}"


@dataclass
class Agents:
    api: Api
    pool: str
    work_dir: Path
    started: list[Proc] = field(default_factory=list)

    async def start(self, name: str, *flags: str, **env: Any) -> Proc:
        """`python -m agent` in this test's pool; `flags` add to or override ours."""
        args = ["-m", "agent", "--api", self.api.url, "--name", name]
        args += ["--registration-token", REGISTRATION_TOKEN, "--pool", self.pool]
        args += ["--work-dir", str(self.work_dir), "--claim-wait-s", "2", *flags]
        log = self.work_dir / f"agent-{name}.log"
        proc = await spawn(f"agent {name}", args, log, {k: str(v) for k, v in env.items()})
        self.started.append(proc)
        return proc


@pytest.fixture
async def agents(api: Api, pool: str, tmp_path: Path) -> AsyncIterator[Agents]:
    found = Agents(api, pool, tmp_path)
    try:
        yield found
    finally:
        await asyncio.gather(*(proc.stop() for proc in found.started))
        for proc in found.started:
            print(f"----- {proc.name} -----\n{proc.output()}")
        print(f"----- api -----\n{api.proc.output()}")
