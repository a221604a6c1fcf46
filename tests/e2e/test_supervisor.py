"""`make run`'s process: the embedded server, the API and the workers start, Ctrl-C stops them all
in order, and the data survives a restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil

from infra.embedded_server import free_port

JOB = {"job_type": "t", "git_repo": "org/repo", "git_ref": "main", "git_commit_sha": "abc1234"}


async def start(
    data: Path, api_port: int, nats_port: int, **extra: str
) -> asyncio.subprocess.Process:
    env = os.environ | {
        "JETDECK_DATA_DIR": str(data),
        "JETDECK_API_PORT": str(api_port),
        "JETDECK_NATS_PORT": str(nats_port),
        **extra,
    }
    env.pop("JETDECK_NATS_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.supervisor",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@asynccontextmanager
async def supervised(
    data: Path, api_port: int, nats_port: int, **extra: str
) -> AsyncIterator[Process]:
    """The supervisor; whatever the test does, nothing it started outlives the test."""
    process = await start(data, api_port, nats_port, **extra)
    tree = psutil.Process(process.pid)
    try:
        yield process
    finally:
        if process.returncode is None:
            for child in [*tree.children(recursive=True), tree]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            await process.wait()


async def healthy(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            if (await client.get("/api/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the API never became healthy")


async def test_ctrl_c_stops_everything_and_the_data_survives_a_restart(tmp_path: Path) -> None:
    api_port, nats_port = free_port(), free_port()
    base = f"http://127.0.0.1:{api_port}"
    async with (
        supervised(tmp_path, api_port, nats_port) as supervisor,
        httpx.AsyncClient(base_url=base) as client,
    ):
        await healthy(client)
        assert (await client.post("/api/dashboard/jobs", json=JOB)).status_code == 401
        token_file = tmp_path / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert token.startswith("jdsvc_")
        client.headers["Authorization"] = f"Bearer {token}"
        children = psutil.Process(supervisor.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for part in (
            "nats-server",
            "workers.gateway",
            "workers.health_monitor",
            "workers.dead_letters",
        ):
            assert part in names
        job_id = (await client.post("/api/dashboard/jobs", json=JOB)).json()["job_id"]
        supervisor.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(supervisor.wait(), 60) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
        async with supervised(tmp_path, api_port, nats_port) as again:
            await healthy(client)
            assert (await client.get(f"/api/dashboard/jobs/{job_id}")).status_code == 200
            assert token_file.read_text().strip() == token
            again.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(again.wait(), 60) == 0


async def test_a_backup_restores_into_a_new_data_directory(tmp_path: Path) -> None:
    """`jetdeck export`, then `make run` on an empty directory with JETDECK_RESTORE_FROM: the
    same jobs, and the old admin token still opens them."""
    api_port, nats_port = free_port(), free_port()
    first, second, backup = tmp_path / "first", tmp_path / "second", tmp_path / "backup.jsonl"
    base = f"http://127.0.0.1:{api_port}"
    async with httpx.AsyncClient(base_url=base) as client:
        async with supervised(first, api_port, nats_port) as supervisor:
            await healthy(client)
            token = (first / "admin-token").read_text().strip()
            client.headers["Authorization"] = f"Bearer {token}"
            job_id = (await client.post("/api/dashboard/jobs", json=JOB)).json()["job_id"]
            with backup.open("wb") as out:
                env = {k: v for k, v in os.environ.items() if k != "JETDECK_NATS_URL"}
                exported = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "cli", "export", "--data-dir", str(first)),
                    stdout=out,
                    env=env | {"JETDECK_NATS_PORT": str(nats_port)},
                )
                assert await asyncio.wait_for(exported.wait(), 60) == 0
            supervisor.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(supervisor.wait(), 60) == 0
        restore = {"JETDECK_RESTORE_FROM": str(backup)}
        async with supervised(second, api_port, nats_port, **restore) as again:
            await healthy(client)
            job = await client.get(f"/api/dashboard/jobs/{job_id}")
            assert job.status_code == 200, job.text
            assert not (second / "admin-token").exists()  # the restored log has its admin
            again.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(again.wait(), 60) == 0
