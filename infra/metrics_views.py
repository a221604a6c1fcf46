"""Gauges drawn from one process's read models when scraped: queue depth and oldest wait per pool
and priority, agents by status, how far the read models are behind the log, the age of their
snapshot, and the foreign messages they and the queue skipped. Every API replica follows the
whole log, so each reports the same figures."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from domain.errors import UnavailableError
from domain.health import AgentStatus
from infra.services import Services


class ViewsCollector(Collector):
    def __init__(self, services: Services, last_seq: int | None) -> None:
        """`last_seq`: the log's last sequence, None when the stream did not answer."""
        self.services = services
        self.last_seq = last_seq

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield self._agents()
        yield from self._read_models()
        yield self._skipped()

    def _queue(self) -> Iterator[Metric]:
        labels = ["pool", "priority"]
        depth = GaugeMetricFamily(
            "jetdeck_queue_depth", "Jobs waiting in the queue.", labels=labels
        )
        oldest = GaugeMetricFamily(
            "jetdeck_queue_oldest_wait_seconds",
            "How long the longest-waiting queued job has waited (0: none waits).",
            labels=labels,
        )
        for level in self.services.views.queue.stats(datetime.now(UTC)):
            key = [level.pool, level.priority]
            depth.add_metric(key, level.depth)
            oldest.add_metric(key, level.oldest_wait_s or 0.0)
        yield depth
        yield oldest

    def _agents(self) -> Metric:
        family = GaugeMetricFamily(
            "jetdeck_agents", "Registered agents by pool and status.", labels=["pool", "status"]
        )
        agents = self.services.views.agents.agents.values()
        counts = Counter((agent.pool, agent.status) for agent in agents)
        for pool in sorted({pool for pool, _ in counts}):
            for status in AgentStatus:  # zeros too, so a status that empties reads 0
                family.add_metric([pool, status], counts[pool, status])
        return family

    def _read_models(self) -> Iterator[Metric]:
        runner = self.services.runner
        yield GaugeMetricFamily(
            "jetdeck_read_model_position",
            "The last log sequence in the read models.",
            runner.position,
        )
        if self.last_seq is not None:
            yield GaugeMetricFamily(
                "jetdeck_read_model_lag_events",
                "Events in the log not yet in the read models.",
                max(self.last_seq - runner.position, 0),
            )
        if runner.writer.saved_at is not None:
            yield GaugeMetricFamily(
                "jetdeck_read_model_snapshot_age_seconds",
                "Since the read models' snapshot was last saved or loaded.",
                time.monotonic() - runner.writer.saved_at,
            )
        yield CounterMetricFamily(
            "jetdeck_read_model_faults", "Events a read model failed to apply.", runner.faults
        )

    def _skipped(self) -> Metric:
        family = CounterMetricFamily(
            "jetdeck_skipped_foreign_events",
            "Messages skipped as not authentic JetDeck events: quarantined on the event "
            "subjects, or terminated tickets in the queue.",
            labels=["source"],
        )
        family.add_metric(["events"], self.services.runner.quarantine.count)
        family.add_metric(["queue"], self.services.queue.rejected.count)
        return family


async def exposition(services: Services) -> bytes:
    """This process's metrics and its read models' gauges, in Prometheus's text format."""
    try:
        last_seq: int | None = (await services.stream_state()).last_seq
    except UnavailableError:  # the other figures matter most while NATS is away
        last_seq = None
    views = CollectorRegistry(auto_describe=False)
    views.register(ViewsCollector(services, last_seq))
    return generate_latest(REGISTRY) + generate_latest(views)
