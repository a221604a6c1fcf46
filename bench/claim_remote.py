"""Claim latency as an agent sees it, over NATS and over HTTP, with 10,000 jobs queued over all
four priorities (issue: p99 at most 2 ms over NATS and 5 ms over HTTP).

Setup, not timed: the real API (uvicorn, its own process) and the gateway (`workers.gateway`, its
own process) on the bench's nats-server; one agent registers and sends the heartbeat that makes
it healthy; the jobs are preloaded as in bench.claim_latency (the same mix and order).

* ours, NATS: sequential requests to `jetdeck.queue.claim` with the agent's token and `wait_s` 0,
  each followed by `jetdeck.queue.complete`, timed separately; the gateway answers.
* ours, HTTP: then the same through `POST /api/queue/claim` and
  `POST /api/queue/jobs/{id}/complete`, one httpx connection.
* raw nats-py: bench.claim_latency's, from this process, alternating with each side in chunks,
  so both drain the levels alike.
* the floor: bench.claim_floor's responder, its own process, claiming the same way with only the
  writes a claim and a complete must make, from tickets it holds ahead (one level: a floor).

    python -m bench.claim_remote [--quick]
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from nats.aio.client import Client

from bench.claim_floor import floor_claim, ready
from bench.claim_latency import FULL, NAME, QUICK, Claim, Samples, Size, alternate, fill_raw, ms
from bench.claim_latency import job_levels as levels_of
from bench.common import connected, gateway_answering, machine, nats_server, parse_args, run_main
from bench.figures import Figure, percentile, print_figure
from bench.heartbeats import Agent, register
from bench.history_scale import worker
from bench.http_post import ADMIN_HEADERS, BODY, api_process
from bench.queue_common import POOL, preload, wait_for_tickets
from domain.queue import Priority
from infra.event_store import EventStore
from workers.gateway import SUBJECT_PREFIX

TIMEOUT_S = 30.0
TARGETS = {"NATS": "<= 2 ms", "HTTP": "<= 5 ms", "floor": "none: the NATS path's floor"}
"""The issue's p99 bound for each path."""


def native_claim(nc: Client, agent: Agent) -> Claim:
    claim = orjson.dumps(
        {"agent_id": agent.agent_id, "agent_token": agent.token, "pool": POOL, "wait_s": 0}
    )

    async def run() -> tuple[float, float, Priority]:
        started = time.perf_counter()
        grant = await _native(nc, "claim", claim)
        claimed = time.perf_counter()
        report = {
            "agent_token": agent.token,
            "job_id": grant["job"]["job_id"],
            "claim_token": grant["claim_token"],
            "exit_code": 0,
        }
        await _native(nc, "complete", orjson.dumps(report))
        return claimed - started, time.perf_counter() - claimed, Priority(grant["job"]["priority"])

    return run


async def _native(nc: Client, operation: str, body: bytes) -> dict[str, Any]:
    answer: dict[str, Any] = orjson.loads(
        (await nc.request(SUBJECT_PREFIX + operation, body, timeout=TIMEOUT_S)).data
    )
    if answer["status"] != 200:
        raise RuntimeError(f"{operation}: {answer['status']} {answer.get('detail', '')}")
    return answer


def http_claim(client: httpx.AsyncClient, agent: Agent) -> Claim:
    claim = {"agent_id": agent.agent_id, "pool": POOL, "wait_s": 0}

    async def run() -> tuple[float, float, Priority]:
        started = time.perf_counter()
        answer = await client.post("/api/queue/claim", json=claim, headers=agent.auth)
        claimed = time.perf_counter()
        if answer.status_code != 200:
            raise RuntimeError(f"claim: {answer.status_code} {answer.text[:200]}")
        grant = answer.json()
        path = f"/api/queue/jobs/{grant['job']['job_id']}/complete"
        report = {"claim_token": grant["claim_token"], "exit_code": 0}
        (await client.post(path, json=report, headers=agent.auth)).raise_for_status()
        return claimed - started, time.perf_counter() - claimed, Priority(grant["job"]["priority"])

    return run


async def measure(url: str, size: Size) -> dict[str, tuple[Samples, Samples]]:
    levels = levels_of(size.jobs)
    async with (
        api_process(url) as (base, _),
        worker("workers.gateway", url),
        connected(url, "bench-claim-remote") as nc,
        httpx.AsyncClient(base_url=base, headers=ADMIN_HEADERS, timeout=TIMEOUT_S) as client,
    ):
        agent = await register(client, "bench-claimer")
        raw = await fill_raw(nc, levels)
        # A real enqueue first makes the queue's consumers; its job is the warm-up claim.
        first = BODY | {"pool": POOL, "priority": Priority.CRITICAL.value}
        (await client.post("/api/queue/jobs", json=first)).raise_for_status()
        await wait_for_tickets(nc, [Priority.CRITICAL], timeout_s=30)
        await preload(nc, EventStore(nc), levels)
        await wait_for_tickets(nc, [Priority.CRITICAL, *levels], timeout_s=120)
        await ready(nc, EventStore(nc), size.jobs)
        over_nats, over_http = native_claim(nc, agent), http_claim(client, agent)
        await gateway_answering(over_nats)  # its first claim is a warm-up one
        measured = {
            "NATS": await alternate(over_nats, raw.claim, size.claims),
            "HTTP": await alternate(over_http, raw.claim, size.claims),
        }
        async with worker("bench.claim_floor", url):
            floor = floor_claim(nc)
            await gateway_answering(floor)
            measured["floor"] = await alternate(floor, raw.claim, size.claims)
        return measured


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(
        f"{NAME} over NATS and HTTP: {size.jobs:,} jobs queued over 4 levels, {size.claims:,} "
        f"timed claims a path\n  {machine()}"
    )
    async with nats_server() as server:
        measured = await measure(server.url, size)
    figures: list[Figure] = []
    for path, (ours, raw) in measured.items():
        ours.check_order(path)
        for q in (50, 99):
            target = TARGETS[path] if q == 99 else ""
            mine, theirs = ms(percentile(ours.claim, q)), ms(percentile(raw.claim, q))
            figures.append(Figure(NAME, f"claim p{q} ms, {path}", mine, theirs, False, target))
    for figure in figures:
        print_figure(figure)
    return figures


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
