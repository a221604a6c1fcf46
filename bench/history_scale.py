"""History at scale: the API, the gateway and the health monitor over a long history of jobs.

The stream is filled as in bench.projection_rebuild (realistic, hash-chained, sealed events),
with jobs only, most created, started and finished, pipelined, in two parts: a quarter of
the history, then the rest. The API (under uvicorn) and the two workers run as child processes
on that server throughout. Printed:

* resident memory of each process after each part, and its growth per job between the two:
  the API's finished jobs live in its SQLite store, the workers hold no job history;
* the API's restart to healthy on the whole history: after a clean stop, from its own files
  (`infra.resume`), and after a kill, from its pictures, then the tail;
* p95 of `GET /api/dashboard/jobs` with each filter, of a job's detail and of the summary,
  next to a raw nats-py read of the same stream (the last event of a job's subject, a direct
  get: the cheapest read of it there is);
* the snapshot bucket against the newest picture's chain (what a start reads).

    python -m bench.history_scale [--quick | --events N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

import httpx
from nats.aio.client import Client

from bench.common import connected, last_seq, nats_server, parse_args_with, run_main
from bench.event_history import Counts, fill, stream_of
from bench.figures import Figure, percentile, print_figure
from bench.http_post import ADMIN_HEADERS, api_process
from bench.projection_rebuild import raw_replay
from domain.values import GitContext
from infra.code_version import code_version
from infra.event_store import EventStore, Outgoing
from infra.layout import EVENTS, SNAPSHOTS
from infra.lifeline import lifeline
from infra.pictures import load_chain
from infra.snapshots import Snapshots

NAME = "history at scale"
CHUNK = 20_000
"""Events published per pipelined batch."""
READS = 200
WORKERS = ("workers.gateway", "workers.health_monitor")
CATCH_UP_S = 1800.0
SAMPLE_EVERY = 97
GITS = tuple(
    GitContext(repo=f"org/{repo}", ref=ref, commit_sha="3f2a9c1e5b7d4a8f")
    for repo in ("api", "web", "billing", "search")
    for ref in ("main", "release")
)
"""Jobs spread over these, so the repo and ref filters select a part, as in life."""


@dataclass(frozen=True)
class Size:
    events: int


FULL = Size(events=3_200_000)
"""About a million jobs: each is created, started and finished."""
QUICK = Size(events=80_000)


@dataclass
class Filled:
    counts: Counts
    seq: int
    sample: list[str] = field(default_factory=list)
    """Ids of jobs spread over the history, for detail reads."""


async def fill_upto(nc: Client, events: Iterator[Outgoing], upto: int, filled: Filled) -> float:
    """Publish from `events` until the stream holds `upto`; returns the seconds it took."""
    seconds = 0.0
    while filled.seq < upto:
        batch = list(islice(events, min(CHUNK, upto - filled.seq)))
        seconds += await fill(nc, batch)
        filled.seq += len(batch)
        created = [m.subject.split(".")[2] for m in batch if m.subject.endswith(".created")]
        filled.sample += created[::SAMPLE_EVERY]
    return seconds


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@asynccontextmanager
async def worker(module: str, nats_url: str) -> AsyncIterator[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETDECK_")}
    env["JETDECK_NATS_URL"] = nats_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, preexec_fn=lifeline()
    )
    try:
        yield process.pid
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def caught_up(base: str, seq: int) -> None:
    """The API's read models hold `seq` (a read with `min_seq`, retried while it is behind)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_S
    async with httpx.AsyncClient(base_url=base, headers=ADMIN_HEADERS, timeout=30) as client:
        while loop.time() < deadline:
            answer = await client.get("/api/dashboard/summary", params={"min_seq": seq})
            if answer.status_code == 200:
                return
            await asyncio.sleep(1)
    raise RuntimeError(f"the API did not reach {seq} in {CATCH_UP_S} s")


async def p95_ms(call: Callable[[int], Awaitable[object]]) -> float:
    loop = asyncio.get_running_loop()
    took = []
    for n in range(READS):
        start = loop.time()
        await call(n)
        took.append((loop.time() - start) * 1000)
    return percentile(took, 95)


FILTERS: dict[str, dict[str, str]] = {
    "no filter": {},
    "status=success": {"status": "success"},
    "status=timeout": {"status": "timeout"},
    "status=running": {"status": "running"},
    "repo": {"repo": "org/billing"},
    "ref and status": {"ref": "release", "status": "failed"},
    "agent_id": {"agent_id": "agent-07"},
    "created, all time": {"created_from": "2020-01-01T00:00:00Z"},
}


async def reads(base: str, nc: Client, sample: list[str]) -> list[Figure]:
    js = nc.jetstream()
    rng = random.Random(5)
    async with httpx.AsyncClient(base_url=base, headers=ADMIN_HEADERS, timeout=30) as client:

        async def raw(_: int) -> None:
            await js.get_last_msg(EVENTS, f"ev.job.{rng.choice(sample)}.>")

        baseline = await p95_ms(raw)
        figures = []
        for name, params in (FILTERS | await old_filters(client, sample)).items():

            async def page(_: int, params: dict[str, str] = params) -> None:
                answer = await client.get("/api/dashboard/jobs", params={**params, "limit": 50})
                answer.raise_for_status()

            took = await p95_ms(page)
            figures.append(
                Figure(NAME, f"job list, {name}: p95 ms", took, baseline, False, "<= 50")
            )

        async def detail(_: int) -> None:
            (await client.get(f"/api/dashboard/jobs/{rng.choice(sample)}")).raise_for_status()

        async def summary(_: int) -> None:
            (await client.get("/api/dashboard/summary")).raise_for_status()

        took = await p95_ms(detail)
        figures.append(Figure(NAME, "job detail: p95 ms", took, baseline, False, "<= 20"))
        took = await p95_ms(summary)
        figures.append(Figure(NAME, "summary: p95 ms", took, baseline, False, "<= 20"))
    return figures


async def old_filters(client: httpx.AsyncClient, sample: list[str]) -> dict[str, dict[str, str]]:
    """A second around an early job's creation, and the page before an early job: both deep in
    history, where the store has to walk."""
    early = sample[len(sample) // 10]
    job = (await client.get(f"/api/dashboard/jobs/{early}")).raise_for_status().json()
    created = datetime.fromisoformat(job["created_at"])
    window = {
        "created_from": (created - timedelta(seconds=0.5)).isoformat(),
        "created_to": (created + timedelta(seconds=0.5)).isoformat(),
    }
    cursor = {"cursor": str(job["last_seq"])}
    return {"created, one early second": window, "a page deep in history": cursor}


async def snapshot_storage(nc: Client) -> tuple[float, float, int]:
    """(bucket MB, newest chain MB, pictures kept)."""
    js = nc.jetstream()
    stored = (await js.stream_info(f"OBJ_{SNAPSHOTS}")).state.bytes
    snapshots = Snapshots(js, code_version())
    names = [n for n in await snapshots.names() if n.version == snapshots.version]
    chain = await load_chain(snapshots, names[-1].seq) if names else None
    chain_bytes = 0
    if chain is not None:
        for picture in chain.pictures:
            chain_bytes += sum(len(s.blob) for s in picture.sections.values())
    return stored / 1e6, chain_bytes / 1e6, len(names)


async def run(size: Size) -> list[Figure]:
    print(f"{NAME}: {size.events:,} events")
    with tempfile.TemporaryDirectory(prefix="jetdeck-history-") as data_dir:
        async with nats_server() as server, connected(server.url, "bench-history") as nc:
            filled, figures = await grown(server.url, nc, size, Path(data_dir))
            figures += await restarted(server.url, nc, filled, Path(data_dir))
    for figure in figures:
        print_figure(figure)
    return figures


async def grown(url: str, nc: Client, size: Size, data_dir: Path) -> tuple[Filled, list[Figure]]:
    """The API and the workers running while a quarter of the history, then the rest, is
    written; their resident memory after each part."""
    async with (
        api_process(url, CATCH_UP_S, data_dir) as (base, api),
        worker(WORKERS[0], url) as gateway,
        worker(WORKERS[1], url) as monitor,
    ):
        pids = {"API": api, "gateway": gateway, "health monitor": monitor}
        store = EventStore(nc)
        filled = Filled(Counts(), await last_seq(nc))  # the API's own first events
        key = await store.key()
        events = stream_of(
            store, key, filled.counts, after=filled.seq, deployment_share=0, gits=GITS
        )
        seconds = await fill_upto(nc, events, size.events // 4, filled)
        jobs_first = filled.counts.jobs
        print(f"  filled {filled.seq:,} events ({jobs_first:,} jobs) in {seconds:.0f} s")
        await caught_up(base, filled.seq)
        before = {name: memory_mb(pid)[0] for name, pid in pids.items()}
        seconds = await fill_upto(nc, events, size.events, filled)
        print(f"  filled {filled.seq:,} events ({filled.counts.jobs:,} jobs) in {seconds:.0f} s")
        await caught_up(base, filled.seq)
        after = {name: memory_mb(pid)[0] for name, pid in pids.items()}
    jobs = filled.counts.jobs - jobs_first
    figures = []
    for name in before:
        per_job = (after[name] - before[name]) * 1024 * 1024 / jobs
        print(f"  {name}: RSS {before[name]:.0f} -> {after[name]:.0f} MB over {jobs:,} more jobs")
        figures.append(Figure(NAME, f"{name} RSS growth: B/job", per_job, 0, False, "<= 1024"))
    return filled, figures


async def restarted(url: str, nc: Client, filled: Filled, data_dir: Path) -> list[Figure]:
    """The API started again on the whole history, alone: after a clean stop (from its own
    files), then after a kill (from its pictures, then the tail)."""
    replay = await raw_replay(url, filled.seq)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with api_process(url, CATCH_UP_S, data_dir) as (base, api):
        ready = loop.time() - started
        await caught_up(base, filled.seq)
        rss, peak = memory_mb(api)
        print(f"  restarted API: RSS {rss:.0f} MB, peak {peak:.0f} MB")
        figures = [Figure(NAME, "API restart to healthy: s", ready, replay, False, "<= 30")]
        figures += await reads(base, nc, filled.sample)
    async with api_process(url, CATCH_UP_S, data_dir) as (base, api):
        os.kill(api, signal.SIGKILL)
    started = loop.time()
    async with api_process(url, CATCH_UP_S, data_dir) as (base, api):
        killed = loop.time() - started
        figures.append(Figure(NAME, "API restart after a kill: s", killed, replay, False))
    bucket, chain, kept = await snapshot_storage(nc)
    print(f"  snapshot bucket {bucket:.1f} MB for {kept} pictures; the newest chain {chain:.1f} MB")
    ratio = bucket / chain if chain else float("nan")
    return [*figures, Figure(NAME, "snapshot bucket / newest chain", ratio, 1, False, "<= 2")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, help=f"instead of {FULL.events:,}")
    args = parse_args_with(parser)
    size = QUICK if args.quick else Size(args.events or FULL.events)
    run_main(run(size))


if __name__ == "__main__":
    main()
