"""JetDeck's metric families, in the process's default prometheus-client registry. Every process
counts what it does itself: the event store its appends and conflicts (here), the queue its
claims, attempts, leases and dead letters (`infra.queue_signals`), the API its requests
(`api.request_metrics`). The gauges drawn from the read models at scrape time are in
`infra.metrics_views`. The API serves all of them on `GET /metrics`, a worker on a port of its
own (`serve_worker_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram, start_http_server

from infra.settings import Settings

if TYPE_CHECKING:  # the event store counts its appends here
    from infra.event_store import Outgoing

WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
RUN_BUCKETS = (0.1, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

EVENTS_APPENDED = Counter(
    "jetdeck_events_appended", "Events appended to the log, by aggregate kind.", ["kind"]
)
APPEND_CONFLICTS = Counter(
    "jetdeck_append_conflicts",
    "Appends refused by optimistic concurrency (the aggregate changed since it was read), by "
    "the kind of each aggregate the append expected a sequence of.",
    ["kind"],
)
CLAIM_WAIT = Histogram(
    "jetdeck_claim_wait_seconds",
    "From a job being due in the queue (queued, or its run_at or retry time) to its claim.",
    ["pool", "priority"],
    buckets=WAIT_BUCKETS,
)
CLAIM_TO_COMPLETE = Histogram(
    "jetdeck_claim_to_complete_seconds",
    "From a claim to the agent's report that ends the attempt, by the job's status after it "
    "(queued: it will be retried).",
    ["pool", "outcome"],
    buckets=RUN_BUCKETS,
)
LEASES_EXPIRED = Counter(
    "jetdeck_leases_expired",
    "Leases lost: ran out unrenewed, or their agent went offline; the attempt counts.",
    ["reason"],
)
DEAD_LETTERS = Counter("jetdeck_dead_letters", "Jobs dead-lettered.", ["pool", "priority"])
HTTP_DURATION = Histogram(
    "jetdeck_http_request_duration_seconds",
    "HTTP requests, from arrival to the end of the answer, by route template and status.",
    ["method", "route", "status"],
)


def kind_of(subject: str) -> str:
    """`ev.<kind>.<id>.<event>` -> kind."""
    return subject.split(".", 2)[1]


def appended(messages: Iterable[Outgoing]) -> None:
    for message in messages:
        EVENTS_APPENDED.labels(kind_of(message.subject)).inc()


def append_conflict(messages: Iterable[Outgoing]) -> None:
    for kind in {kind_of(m.subject) for m in messages if m.expect_seq is not None}:
        APPEND_CONFLICTS.labels(kind).inc()


def worker_metrics_port(settings: Settings, name: str) -> int | None:
    """`metrics_port` plus the worker's place among the expected workers, so the workers of one
    `make run` do not collide; None when unset."""
    workers = settings.expected_workers
    if settings.metrics_port is None or name not in workers:
        return None  # an unlisted worker would take a listed one's port
    return settings.metrics_port + workers.index(name)


def serve_worker_metrics(settings: Settings, name: str) -> None:
    """The worker's metrics on its port (a thread of prometheus-client's), if it has one."""
    port = worker_metrics_port(settings, name)
    if port is not None:
        start_http_server(port, addr=settings.metrics_host)
