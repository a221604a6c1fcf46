"""Every dashboard page over about 100,000 jobs, against the JSON route that reads the same data.

The EVENTS stream is filled as in bench.projection_rebuild (realistic, hash-chained, sealed
events: jobs started and finished, deployments through production), then the API app
(`api.app:create_app`) starts in this process and its read models catch up from the stream, as
at any start; pictures are off, since drawing them is not what is measured. Requests go through
the ASGI app in process (httpx.AsyncClient with ASGITransport), one at a time and each page
alternating with its JSON twin, so both meet the same noise: the time is routing, authentication,
the read, and rendering the template or encoding the JSON; no socket.

Pages the app does not serve (yet) are left out, with a line saying so.

    python -m bench.pages [--quick] [--profile [--page /jobs]]
"""

from __future__ import annotations

import argparse
import cProfile
import re
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.app import create_app
from bench.common import nats_server, parse_args_with, print_profile, run_main
from bench.figures import Figure, percentile, print_figure, runs_text
from bench.http_post import ADMIN_HEADERS, ADMIN_TOKEN
from bench.projection_rebuild import NO_SNAPSHOTS, Size, filled
from infra.settings import Settings

NAME = "dashboard pages"
TARGET = "p95 < 100 ms"
EVENTS_PER_JOB = 3.4
"""A little more than bench.event_history's mix writes per job, deployments included (3.34):
the history holds at least the jobs asked for."""


@dataclass(frozen=True)
class Load:
    jobs: int
    requests: int
    warmup: int

    @property
    def size(self) -> Size:
        return Size(events=round(self.jobs * EVENTS_PER_JOB), rounds=1, snapshot_cap_s=0)


FULL = Load(jobs=100_000, requests=200, warmup=20)
QUICK = Load(jobs=10_000, requests=30, warmup=5)

PAIRS: list[tuple[str, str]] = [
    ("/", "/api/dashboard/summary"),
    ("/jobs", "/api/dashboard/jobs"),
    ("/jobs?status=failed", "/api/dashboard/jobs?status=failed"),
    ("/jobs/{job_id}", "/api/dashboard/jobs/{job_id}"),
    ("/deployments", "/api/dashboard/deployments"),
    (
        "/deployments/{service_name:path}",
        "/api/dashboard/deployments/service/{service_name:path}",
    ),
    ("/agents", "/api/agents"),
    ("/dead-letters", "/api/queue/dead-letters"),
    ("/audit/{aggregate}/{aggregate_id}", "/api/audit/{aggregate}/{aggregate_id}"),
]
"""Each page (its route's path) and the JSON route reading the same data: the baseline."""
PLACEHOLDER = re.compile(r"{(\w+)(?::\w+)?}")


@asynccontextmanager
async def api_in_process(url: str) -> AsyncIterator[FastAPI]:
    """The API app on the bench's server, its read models caught up with the whole stream."""
    with tempfile.TemporaryDirectory(prefix="jetdeck-bench-pages-") as data:
        settings = Settings(
            nats_url=url,
            bootstrap_admin_token=ADMIN_TOKEN,
            expected_workers=[],
            snapshot_every=NO_SNAPSHOTS,
            data_dir=Path(data),
        )
        app = create_app(settings)
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            print(f"  the API caught up with the stream in {time.perf_counter() - started:.1f} s")
            yield app


async def serves(client: httpx.AsyncClient, path: str) -> bool:
    """A path no route matches is the API's JSON 404; a page's own 404 would be HTML."""
    answer = await client.get(path)
    return answer.status_code != 404 or answer.headers["content-type"].startswith("text/html")


async def values(client: httpx.AsyncClient) -> dict[str, str]:
    """What the pages with an id show: the newest job, and a service that deployed."""
    newest = (await client.get("/api/dashboard/jobs", params={"limit": 1})).json()["items"][0]
    deployments = (await client.get("/api/dashboard/deployments")).json()["items"]
    return {
        "job_id": newest["job_id"],
        "aggregate": "job",
        "aggregate_id": newest["job_id"],
        "service_name": deployments[0]["service_name"] if deployments else "service-00",
    }


def filled_in(template: str, known: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: known[m[1]], template)


async def timed_get(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path)
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return seconds


async def pair(client: httpx.AsyncClient, label: str, page: str, json: str, load: Load) -> Figure:
    """Page and JSON in turn; p95 of each in ms."""
    pages: list[float] = []
    answers: list[float] = []
    for i in range(load.warmup + load.requests):
        page_s, json_s = await timed_get(client, page), await timed_get(client, json)
        if i >= load.warmup:
            pages.append(page_s * 1000)
            answers.append(json_s * 1000)
    print(
        f"  {label}: page ms p50 {percentile(pages, 50):.1f}, JSON p50 "
        f"{percentile(answers, 50):.1f}; slowest page {runs_text(sorted(pages)[-3:])}"
    )
    ours, baseline = percentile(pages, 95), percentile(answers, 95)
    return Figure(NAME, f"{label} p95 ms", ours, baseline, False, TARGET)


async def measure(
    load: Load, profiler: cProfile.Profile | None = None, only: str | None = None
) -> list[Figure]:
    async with nats_server() as server:
        await filled(server.url, load.size)
        async with api_in_process(server.url) as app:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://jetdeck", headers=ADMIN_HEADERS
            ) as client:
                known = await values(client)
                figures = []
                for page, json in [p for p in PAIRS if only in (None, p[0])]:
                    page_path, json_path = filled_in(page, known), filled_in(json, known)
                    if not await serves(client, page_path):
                        print(f"  {page}: not served by this build, left out")
                        continue
                    if profiler is not None:
                        profiler.enable()
                    figures.append(await pair(client, page, page_path, json_path, load))
                    if profiler is not None:
                        profiler.disable()
    return figures


async def run(quick: bool) -> list[Figure]:
    load = QUICK if quick else FULL
    print(f"{NAME}: about {load.jobs:,} jobs, {load.requests} requests per page and per JSON route")
    figures = await measure(load)
    print("  the baseline, printed as raw below: the JSON route reading the same data")
    for figure in figures:
        print_figure(figure)
    return figures


async def profile(load: Load, only: str | None) -> None:
    """cProfile of the requests only (not the fill or the catch-up): where a page's time goes."""
    profiler = cProfile.Profile()
    await measure(load, profiler, only)
    print_profile(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile the requests instead")
    parser.add_argument("--page", help="profile only this page, as PAIRS names it, e.g. /")
    args = parse_args_with(parser)
    load = QUICK if args.quick else FULL
    run_main(profile(load, args.page) if args.profile else run(args.quick))


if __name__ == "__main__":
    main()
