"""Live dashboard fan-out: one API process holding 500 SSE clients of the overview page, against
500 raw nats-py core subscribers receiving the same notification.

Ours: the real API (`api.app:create_app` under uvicorn, in its own process) with 500 clients on
`/live/` (raw sockets, as a browser's EventSource would hold them). A job is created through the
API every 300 ms; a delivery's latency runs from the write's commit (its JetStream timestamp) to
a client reading the first message whose id (a stream sequence) covers it. The render happens
once per change, whatever the number of clients.
Raw: 500 nats-py connections, each subscribed to one subject; one message a 300 ms, each
carrying its publish time. Same host, same clock, both sides.

    python -m bench.sse_fanout [--quick]
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from nats.aio.client import Client
from nats.aio.msg import Msg

from bench.common import connected, nats_server, parse_args, run_main
from bench.figures import Figure, percentile, print_figure
from bench.http_post import ADMIN_HEADERS, BODY, PATH, api_process
from infra.layout import EVENTS

NAME = "SSE fan-out"
CLIENTS = 500
GAP_S = 0.3
"""Between two writes: more than the 250 ms coalescing, so every write is its own render."""
TARGET_MS = 250.0
ID = re.compile(rb"^id: (\d+)", re.MULTILINE)
READ_BYTES = 1 << 16
"""Whole chunks, not lines: a message of panels has dozens of lines, and reading them one by one
would measure this process, which holds all 500 clients, rather than the API."""
DRAIN_S = 10.0
POLL_S = 0.05


@dataclass(frozen=True)
class Size:
    writes: int


QUICK = Size(writes=8)
FULL = Size(writes=30)


@dataclass
class SseClient:
    """One stream on a raw socket: (id, time read) of every message."""

    seen: list[tuple[int, float]] = field(default_factory=list)

    async def run(self, host: str, port: int, path: str, opened: Callable[[], None]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        auth = ADMIN_HEADERS["Authorization"]
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        try:
            while chunk := await reader.read(READ_BYTES):
                if b"retry:" in chunk:
                    opened()
                at = time.time()
                self.seen.extend((int(found), at) for found in ID.findall(chunk))
        finally:
            writer.close()


def _all_opened(count: int) -> tuple[asyncio.Event, Callable[[], None]]:
    done = asyncio.Event()
    opened = [0]

    def one() -> None:
        opened[0] += 1
        if opened[0] == count:
            done.set()

    return done, one


async def ours(nats_url: str, size: Size) -> list[float]:
    async with (
        api_process(nats_url) as (base, _pid),
        connected(nats_url, "bench-sse-commit-times") as nc,
        httpx.AsyncClient(base_url=base, headers=ADMIN_HEADERS, timeout=30) as api,
    ):
        first = (await api.get("/api/dashboard/summary")).json()["as_of_seq"]
        host, port = base.removeprefix("http://").split(":")
        clients = [SseClient() for _ in range(CLIENTS)]
        done, one = _all_opened(CLIENTS)
        tasks = [
            asyncio.create_task(c.run(host, int(port), f"/live/?after={first}", one))
            for c in clients
        ]
        await asyncio.wait_for(done.wait(), 60)
        seqs = await _writes(size, lambda: _create_job(api))
        await _until(lambda: all(c.seen and c.seen[-1][0] >= seqs[-1] for c in clients))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        committed = {seq: await _commit_time(nc, seq) for seq in seqs}
    return [
        (min(t for i, t in c.seen if i >= seq) - at) * 1000
        for c in clients
        for seq, at in committed.items()
        if any(i >= seq for i, _ in c.seen)
    ]


async def _create_job(api: httpx.AsyncClient) -> int:
    answer = await api.post(PATH, json=BODY)
    if answer.status_code != 201:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
    seq: int = answer.json()["seq"]
    return seq


async def _commit_time(nc: Client, seq: int) -> float:
    stored = await nc.jsm().get_msg(EVENTS, seq)
    assert stored.time is not None
    return stored.time.timestamp()


async def _writes(size: Size, write: Callable[[], Awaitable[int]]) -> list[int]:
    seqs = []
    for _ in range(size.writes):
        seqs.append(await write())
        await asyncio.sleep(GAP_S)
    return seqs


async def _until(done: Callable[[], bool]) -> None:
    """The last deliveries, within a deadline: a missing one shows in the counts printed."""
    for _ in range(round(DRAIN_S / POLL_S)):
        if done():
            return
        await asyncio.sleep(POLL_S)


async def raw(nats_url: str, size: Size) -> list[float]:
    latencies: list[float] = []

    async def on_msg(msg: Msg) -> None:
        latencies.append((time.time() - float(msg.data)) * 1000)

    subscribers = [Client() for _ in range(CLIENTS)]
    for nc in subscribers:
        await nc.connect(nats_url, name="bench-sse-raw")
        await nc.subscribe("bench.live", cb=on_msg)
        await nc.flush()
    try:
        async with connected(nats_url, "bench-sse-raw-publisher") as publisher:

            async def publish() -> int:
                await publisher.publish("bench.live", str(time.time()).encode())
                return 0

            await _writes(size, publish)
            await _until(lambda: len(latencies) == CLIENTS * size.writes)
    finally:
        for nc in subscribers:
            await nc.close()
    return latencies


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {CLIENTS} clients, {size.writes} writes {GAP_S * 1000:.0f} ms apart")
    async with nats_server() as server:
        theirs = await raw(server.url, size)
        mine = await ours(server.url, size)
    expected = CLIENTS * size.writes
    print(f"  ours: {len(mine)}/{expected} deliveries; raw: {len(theirs)}/{expected}")
    result = [
        Figure(
            NAME,
            f"p50 ms, commit → {CLIENTS} clients",
            percentile(mine, 50),
            percentile(theirs, 50),
            False,
        ),
        Figure(
            NAME,
            f"p99 ms, commit → {CLIENTS} clients",
            percentile(mine, 99),
            percentile(theirs, 99),
            False,
            f"< {TARGET_MS:.0f}",
        ),
    ]
    for figure in result:
        print_figure(figure)
    return result


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
