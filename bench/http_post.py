"""`POST /api/dashboard/jobs` at a fixed rate against awaited raw appends at the same rate.

Ours: the real API (`api.app:create_app` under uvicorn, in its own process) on the bench's
nats-server, driven open-loop by httpx.AsyncClient (16 small pools taken in turn): request i
starts at t0 + i/rate whether or not earlier ones answered, and its latency counts from that
instant (no coordinated omission).
Raw: the same schedule of awaited `js.publish` calls with the payloads and headers the command
path writes. The raw side runs first, before the API starts, so the API's read models do not
spend CPU on its events while it is measured. Each side also reports the CPU each process spent
per request, which says whether the API, the client or the server set the pace.

    python -m bench.http_post [--quick]
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import httpx

from bench.common import (
    GIT,
    METADATA,
    connected,
    created_job_messages,
    nats_server,
    parse_args,
    run_main,
    server_pid,
    store_headers,
)
from bench.figures import CpuMeter, Figure, OpenLoop, open_loop, print_figure
from infra.embedded_server import free_port
from infra.event_store import EventStore
from infra.lifeline import lifeline

NAME = "HTTP POST job"
PATH = "/api/dashboard/jobs"
BODY = {
    "job_type": "build",
    "git_repo": GIT.repo,
    "git_ref": GIT.ref,
    "git_commit_sha": GIT.commit_sha,
    "git_commit_message": GIT.commit_message,
    "git_author": GIT.author,
    "metadata": METADATA,
}
ADMIN_TOKEN = "jdsvc_bench-admin-token-0123456789abcdefghijklmno"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
"""The API's bootstrap admin token: the benches' clients call with it unless they are agents."""
START_TIMEOUT_S = 60.0
CLIENTS = 16
CONNECTIONS_PER_CLIENT = 8


@dataclass(frozen=True)
class Size:
    rate: float
    seconds: float
    warmup: int

    @property
    def requests(self) -> int:
        return round(self.rate * self.seconds)


FULL = Size(rate=200, seconds=10, warmup=200)
QUICK = Size(rate=100, seconds=2, warmup=50)


@dataclass(frozen=True)
class Run:
    """One measured open-loop run and the CPU seconds each process spent during it."""

    load: OpenLoop
    cpu_s: dict[str, float]

    def describe(self) -> str:
        load = self.load
        requests = max(1, len(load.latencies) + sum(load.errors.values()))
        cpu = ", ".join(f"{name} {s / requests * 1000:.3f} ms" for name, s in self.cpu_s.items())
        failed = "".join(f"\n      failed {n} x {error}" for error, n in load.errors.items())
        return (
            f"{len(load.latencies):,} ok, {sum(load.errors.values())} failed, "
            f"{load.achieved:,.0f} req/s, p50 {load.ms(50):.2f} ms, p90 {load.ms(90):.2f} ms, "
            f"p99 {load.ms(99):.2f} ms, max {load.ms(100):.2f} ms\n"
            f"      CPU per request: {cpu}{failed}"
        )


async def drive(size: Size, send: Callable[[], Awaitable[object]], meter: CpuMeter) -> Run:
    """A warm-up at the same rate, then the measured run."""
    await open_loop(size.rate, size.warmup, send)
    before = meter.read()
    load = await open_loop(size.rate, size.requests, send)
    return Run(load, meter.since(before))


async def raw_run(url: str, size: Size, meter: CpuMeter) -> Run:
    async with connected(url, "bench-http-raw") as nc:
        js = nc.jetstream()
        store = EventStore(nc)
        messages = created_job_messages(store, size.warmup + size.requests, await store.key())
        pending = iter(messages)

        async def send() -> None:
            m = next(pending)
            await js.publish(m.subject, m.payload, headers=store_headers(m))

        return await drive(size, send, meter)


@asynccontextmanager
async def api_process(
    nats_url: str,
    start_timeout_s: float = START_TIMEOUT_S,
    data_dir: Path | None = None,
    app: tuple[str, ...] = ("api.app:create_app", "--factory"),
) -> AsyncIterator[tuple[str, int]]:
    """The API (or another `app` answering `GET /api/health`) under uvicorn in a child process;
    yields its base URL and pid once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env["JETDECK_NATS_URL"] = nats_url
    if data_dir is not None:
        env["JETDECK_DATA_DIR"] = str(data_dir)
    env["JETDECK_BOOTSTRAP_ADMIN_TOKEN"] = ADMIN_TOKEN
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", *app, "--host", "127.0.0.1"),
        *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        env=env,
        preexec_fn=lifeline(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, process, start_timeout_s)
        yield base, process.pid
    finally:
        await stop(process)


async def wait_healthy(
    base: str, process: asyncio.subprocess.Process, timeout_s: float = START_TIMEOUT_S
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the API exited with {process.returncode}")
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the API was not healthy within {timeout_s} s")


STOP_TIMEOUT_S = 60.0
"""A clean stop parks the read models (a picture of what they hold in memory) before it exits."""


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def clients(base: str) -> AsyncIterator[Iterator[httpx.AsyncClient]]:
    """Small httpx pools taken in turn. One big pool makes a poor open-loop generator: httpcore
    1.0.9 re-scans the pool on every request, with a step quadratic in its connections
    (connection_pool.py:284-308), so once answers lag and connections pile up, the client's own
    CPU per request grows from about 1 ms to 5 ms, it falls behind its schedule, and the
    latencies measure the client."""
    limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT)
    async with AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, timeout=30, limits=limits, headers=ADMIN_HEADERS)
            )
            for _ in range(CLIENTS)
        ]
        yield cycle(pool)


async def api_run(base: str, size: Size, meter: CpuMeter) -> Run:
    async with clients(base) as pool:

        async def send() -> None:
            answer = await next(pool).post(PATH, json=BODY)
            if answer.status_code != 201:
                raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")

        return await drive(size, send, meter)


def figures(ours: OpenLoop, raw: OpenLoop, size: Size) -> list[Figure]:
    return [
        Figure(NAME, f"p50 ms at {size.rate:.0f} req/s", ours.ms(50), raw.ms(50), False),
        Figure(NAME, f"p99 ms at {size.rate:.0f} req/s", ours.ms(99), raw.ms(99), False),
        Figure(NAME, "achieved req/s", ours.achieved, raw.achieved, True),
    ]


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.rate:.0f} req/s for {size.seconds:.0f} s, open loop")
    async with nats_server() as server:
        meter = CpuMeter({"load generator": os.getpid(), "nats-server": server_pid(server)})
        raw = await raw_run(server.url, size, meter)
        async with api_process(server.url) as (base, pid):
            ours = await api_run(base, size, meter.also("API process", pid))
    print(f"  ours (HTTP):    {ours.describe()}")
    print(f"  raw js.publish: {raw.describe()}")
    result = figures(ours.load, raw.load, size)
    for figure in result:
        print_figure(figure)
    return result


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
