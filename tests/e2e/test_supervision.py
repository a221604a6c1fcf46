"""`make run` under fire: SIGKILL of its whole process group, a worker killed, a second start on
the same data or port. Real processes throughout, found and checked with psutil."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil

from infra.embedded_server import free_port
from tests.e2e.test_supervisor import JOB, healthy
from tests.processes import still_running

WORKER = "workers.dead_letters"


def environment(data: Path, api_port: int, nats_port: int) -> dict[str, str]:
    env = os.environ | {
        "JETDECK_DATA_DIR": str(data),
        "JETDECK_API_PORT": str(api_port),
        "JETDECK_NATS_PORT": str(nats_port),
    }
    env.pop("JETDECK_NATS_URL", None)
    return env


@asynccontextmanager
async def group(data: Path, api_port: int, nats_port: int) -> AsyncIterator[psutil.Process]:
    """The supervisor as `make run` starts it: leader of its own process group. Whatever the test
    does, nothing it started outlives the test."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.supervisor",
        env=environment(data, api_port, nats_port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    leader = psutil.Process(process.pid)
    try:
        yield leader
    finally:
        for child in [*leader.children(recursive=True), leader] if leader.is_running() else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        await process.wait()


async def ready(client: httpx.AsyncClient, deadline_s: float = 60) -> None:
    await until(client, lambda r: r.status_code == 200, deadline_s)


async def until(
    client: httpx.AsyncClient, check: Callable[[httpx.Response], bool], deadline_s: float
) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            answer = await client.get("/api/health/ready")
            if check(answer):
                return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"/api/health/ready never showed what was awaited in {deadline_s} s")


def worker_pid(leader: psutil.Process, module: str) -> int:
    (pid,) = [c.pid for c in leader.children() if module in " ".join(c.cmdline())]
    return int(pid)


async def test_sigkill_of_the_group_leaves_nothing_and_a_restart_finds_the_data(
    tmp_path: Path,
) -> None:
    api_port, nats_port = free_port(), free_port()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as client:
        async with group(tmp_path, api_port, nats_port) as leader:
            await ready(client)
            token = (tmp_path / "admin-token").read_text().strip()
            client.headers["Authorization"] = f"Bearer {token}"
            job_id = (await client.post("/api/dashboard/jobs", json=JOB)).json()["job_id"]
            started = leader.children(recursive=True)
            assert len(started) >= 5  # nats-server and four workers, in sessions of their own
            os.killpg(leader.pid, signal.SIGKILL)
            assert still_running([p.pid for p in started], deadline_s=5) == []
        async with group(tmp_path, api_port, nats_port):
            await ready(client)
            answer = await client.get(f"/api/dashboard/jobs/{job_id}")
            assert answer.status_code == 200, answer.text


async def test_a_killed_worker_is_missing_from_readiness_then_back(tmp_path: Path) -> None:
    api_port, nats_port = free_port(), free_port()
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as client,
        group(tmp_path, api_port, nats_port) as leader,
    ):
        await ready(client)
        first = worker_pid(leader, WORKER)
        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)
        missing = await until(client, lambda r: r.status_code == 503, deadline_s=10)
        assert missing.json()["reasons"] == ["worker dead_letters not heard from"]
        await ready(client, deadline_s=30)
        print(f"worker back and beating {time.monotonic() - killed_at:.1f} s after SIGKILL")
        assert worker_pid(leader, WORKER) != first


async def test_a_second_start_on_the_same_data_or_port_names_the_first(tmp_path: Path) -> None:
    api_port, nats_port = free_port(), free_port()
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as client,
        group(tmp_path / "a", api_port, nats_port) as leader,
    ):
        await healthy(client)
        same_data = await second(tmp_path / "a", free_port(), free_port())
        assert same_data[0] == 1
        assert f"data directory {tmp_path / 'a'} is in use" in same_data[1]
        assert f"pid {leader.pid}" in same_data[1]
        same_port = await second(tmp_path / "b", api_port, free_port())
        assert same_port[0] == 1
        assert f"port {api_port} for the API is in use by pid {leader.pid}" in same_port[1]
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            taken = squatter.getsockname()[1]
            nats_taken = await second(tmp_path / "c", free_port(), taken)
        assert nats_taken[0] == 1
        assert (
            f"port {taken} for the embedded nats-server is in use by pid {os.getpid()}"
            in (nats_taken[1])
        )
        assert not (tmp_path / "c" / "nats").exists()  # refused before starting anything


async def second(data: Path, api_port: int, nats_port: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.supervisor",
        env=environment(data, api_port, nats_port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, err.decode()
