"""Rebuild and `?as_of=` against raw callback replays of the same EVENTS stream.

The stream is filled as in bench.projection_rebuild (realistic, hash-chained, sealed events).

* rebuild: `infra.time_travel.rebuild` (discard the snapshots, replay everything, save one);
  raw: an ordered push consumer with a counting callback over the whole stream. Events/s.
* as_of: the real API under uvicorn, on the pictures the rebuild left, asked
  `GET /api/dashboard/summary?as_of=<seq>` at points spread over the stream: cold (first time
  each point) and cached (asked again); then the first page of `GET /api/dashboard/jobs` at
  points of its own (the job board is most of a picture). Raw: a counting replay of events
  1..seq for the same points. p95 latency.

    python -m bench.time_travel [--quick]
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import httpx

from bench.common import connected, nats_server, parse_args, run_main
from bench.figures import CpuMeter, Figure, Series, median, percentile, print_figure, runs_text
from bench.http_post import ADMIN_HEADERS, api_process
from bench.projection_rebuild import FULL, QUICK, Size, filled, raw_replay
from infra.code_version import code_version
from infra.layout import SNAPSHOTS
from infra.pictures import load_chain
from infra.snapshots import Snapshots
from infra.time_travel import rebuild

NAME = "time travel"
POINTS = 12
"""`as_of` points, spread evenly over the stream (none on a snapshot on purpose)."""
CACHED_ROUNDS = 3


@dataclass(frozen=True)
class AsOf:
    cold: list[float]
    cached: list[float]
    jobs: list[float]
    raw: list[float]


def points(events: int, offset: int = 137) -> list[int]:
    step = events // (POINTS + 1)
    return [step * (i + 1) + offset for i in range(POINTS)]


async def rebuild_seconds(url: str) -> float:
    async with connected(url, "bench-time-travel") as nc:
        started = time.perf_counter()
        covered = await rebuild(nc)
        seconds = time.perf_counter() - started
    print(f"  rebuild covered {covered:,} events in {seconds:.2f} s")
    return seconds


async def as_of(url: str, size: Size) -> AsOf:
    """Latencies in seconds of ours (summary cold and cached, jobs cold) and of a raw replay to
    the same points."""
    cold: list[float] = []
    cached: list[float] = []
    jobs: list[float] = []
    async with (
        api_process(url) as (base, _),
        httpx.AsyncClient(base_url=base, headers=ADMIN_HEADERS, timeout=120) as client,
    ):

        async def ask(seq: int, path: str = "/api/dashboard/summary") -> float:
            started = time.perf_counter()
            answer = await client.get(path, params={"as_of": seq})
            answer.raise_for_status()
            return time.perf_counter() - started

        for seq in points(size.events):
            cold.append(await ask(seq))
        for _ in range(CACHED_ROUNDS):
            for seq in points(size.events)[-4:]:  # the API keeps the last 4 (as_of_cache)
                cached.append(await ask(seq))
        # Half a step past the summary's points: neither meets the other's cache.
        for seq in points(size.events, size.events // (POINTS + 1) // 2):
            jobs.append(await ask(seq, "/api/dashboard/jobs"))
    raw = [await raw_replay(url, seq) for seq in points(size.events)]
    return AsOf(cold, cached, jobs, raw)


async def print_storage(url: str) -> None:
    """What the snapshot bucket holds after a rebuild, against the chain a process starts from."""
    async with connected(url, "bench-storage") as nc:
        js = nc.jetstream()
        snapshots = Snapshots(js, code_version())
        names = await snapshots.names()
        chain = await load_chain(snapshots, names[-1].seq) if names else None
        pictures = chain.pictures if chain else []
        store = await snapshots.store()
        by_seq = {n.seq: n for n in names}
        newest = sum([(await store.get_info(str(by_seq[p.seq]))).size or 0 for p in pictures])
        held = (await js.stream_info(f"OBJ_{SNAPSHOTS}")).state.bytes
    print(
        f"  snapshot storage: {held / 1e6:.1f} MB for {len(names)} pictures; the chain a process "
        f"starts from {newest / 1e6:.1f} MB in {len(pictures)} ({held / max(newest, 1):.1f}x)"
    )


def ms(values: list[float]) -> str:
    return runs_text([v * 1000 for v in values])


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.events:,} events, rebuild x {size.rounds}, as_of at {POINTS} points")
    async with nats_server() as server:
        await filled(server.url, size)
        meter = CpuMeter({"bench process": os.getpid()})
        ours, raw = Series(size.events, meter), Series(size.events, meter)
        for _ in range(size.rounds):
            await raw.round(raw_replay(server.url, size.events))
            await ours.round(rebuild_seconds(server.url))
        await print_storage(server.url)
        past = await as_of(server.url, size)
    print(f"  rebuild rounds: ours {runs_text(ours.rates)}  raw {runs_text(raw.rates)}")
    print(f"  as_of ms: cold {ms(past.cold)}")
    print(f"            cached {ms(past.cached)}")
    print(f"            jobs, cold {ms(past.jobs)}")
    print(f"            raw replay to the point {ms(past.raw)}")
    raw_p95 = percentile(past.raw, 95) * 1000
    figures = [
        Figure(NAME, "rebuild events/s", median(ours.rates), median(raw.rates), True, ">= 0.5"),
        Figure(
            NAME, "as_of p95 ms, cold", percentile(past.cold, 95) * 1000, raw_p95, False, "< 1 s"
        ),
        Figure(NAME, "as_of p95 ms, cached", percentile(past.cached, 95) * 1000, raw_p95, False),
        Figure(
            NAME,
            "as_of p95 ms, jobs, cold",
            percentile(past.jobs, 95) * 1000,
            raw_p95,
            False,
            "< 1 s",
        ),
    ]
    for figure in figures:
        print_figure(figure)
    return figures


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
