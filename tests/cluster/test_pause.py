"""SIGSTOP of the nats-server an API process is connected to, for 10 s: the process stays
alive and its socket open, so nothing notices but requests that get no answer. Every request
still answers within its deadline (a write 503 with `Retry-After` once JETDECK_WRITE_TIMEOUT_S
passes), and after SIGCONT everything recovers: each write that answered 503, sent again with
its key, lands once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from uuid import uuid4

import httpx
import pytest

from domain.job import Job
from tests.cluster.deck import WRITE_TIMEOUT_S, Deck
from tests.cluster.load import event_log
from tests.queue_helpers import NEW_JOB, QUEUE_API, events
from tests.tokens import ADMIN_TOKEN

PAUSE_S = 10.0
"""How long the server stays stopped: the scenario, not a wait for something."""
SLACK_S = 5.0
"""Beyond a request's own deadline, for a busy host; a hang lasts far longer."""
WRITERS = 3
POOL = "paused"


@dataclass(frozen=True)
class Probe:
    replica: int
    path: str
    key: str | None
    status: int
    retry_after: str | None
    took_s: float


def new_job(key: str) -> dict[str, object]:
    return NEW_JOB | {"pool": POOL, "metadata": {"probe": key}}


READS = ("/api/dashboard/summary", "/api/health/ready")
"""Besides writes: a read model's answer, and readiness (whose 503 is the answer "not ready",
with no Retry-After, as a probe expects)."""


async def probe(client: httpx.AsyncClient, replica: int, target: str | None = None) -> Probe:
    """A GET of `target` when it is a path; else a write, a job tagged with its key `target`
    (a new key when None)."""
    start = time.monotonic()
    if target in READS:
        response, key = await client.get(target), None
    else:
        key = target or uuid4().hex
        headers = {"Idempotency-Key": key}
        response = await client.post(f"{QUEUE_API}/jobs", json=new_job(key), headers=headers)
    took_s = time.monotonic() - start
    path, retry_after = response.request.url.path, response.headers.get("Retry-After")
    return Probe(replica, path, key, response.status_code, retry_after, took_s)


async def probing(
    client: httpx.AsyncClient, replica: int, target: str | None, until: float
) -> list[Probe]:
    found: list[Probe] = []
    while time.monotonic() < until:
        found.append(await probe(client, replica, target))
    return found


async def landed(client: httpx.AsyncClient, first: Probe, within_s: float = 30) -> Probe:
    """The write of `first` sent again with its key until it is answered 2xx."""
    deadline = time.monotonic() + within_s
    while (again := await probe(client, first.replica, first.key)).status == 503:
        assert time.monotonic() < deadline, f"{first.key} still 503 after {within_s}s"
        await asyncio.sleep(0.1)
    assert again.status in (200, 201), again
    return again


@pytest.mark.timeout(300)
async def test_a_paused_server_gets_503_in_time_and_everything_recovers(deck: Deck) -> None:
    node = await deck.node_of(0)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=60) for url in deck.urls]
    try:
        for n, client in enumerate(clients):  # the pool's consumers declared, as in steady use
            assert (await probe(client, n)).status == 201
        with node.paused():
            until = time.monotonic() + PAUSE_S
            loops = [probing(clients[0], 0, None, until) for _ in range(WRITERS)]
            loops += [probing(clients[1], 1, None, until)]
            loops += [
                probing(client, n, read, until)
                for n, client in enumerate(clients)
                for read in READS
            ]
            probes = [p for found in await asyncio.gather(*loops) for p in found]
        await deck.all_ready()
        unknown = [p for p in probes if p.key is not None and p.status == 503]
        resent = [await landed(clients[p.replica], p) for p in unknown]
    finally:
        for client in clients:
            await client.aclose()
    assert max(p.took_s for p in probes) < WRITE_TIMEOUT_S + SLACK_S, probes
    assert {p.status for p in probes} <= {200, 201, 503}, probes
    assert [p for p in unknown if p.replica == 0], "no write through the paused server got a 503"
    summary, health = READS
    assert {p.status for p in probes if p.path == summary} == {200}  # from the read models
    assert [p for p in probes if p.status == 503 and not p.retry_after and p.path != health] == []
    written = [p.key for p in probes + resent if p.key is not None and p.status in (200, 201)]
    log = await event_log(deck.cluster)
    created = Counter(e.metadata.get("probe") for e in events(log, Job.Created))
    assert {key: created[key] for key in written} == dict.fromkeys(written, 1)
    print(
        f"nats-server paused {PAUSE_S:.0f} s: {len(probes)} requests, {len(unknown)} writes "
        f"answered 503 with Retry-After, slowest answer {max(p.took_s for p in probes):.1f} s; "
        f"{len(written)} writes landed once each after SIGCONT"
    )
