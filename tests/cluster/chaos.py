"""One blow under steady queue traffic (tests.cluster.load), and the figures it leaves: how long
until writes were answered again, how many calls were sent again, and what the event log
says of the acknowledged jobs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from infra.embedded_cluster import EmbeddedCluster
from tests.cluster.load import Agent, Traffic, Verdict, verdict

RATE = 10.0
"""Jobs enqueued a second."""
AGENTS = 4
BEFORE, AFTER = 30, 90
"""Writes answered before the blow, and after it (about 30 jobs' worth of traffic)."""
BACK_WITHIN_S = 30.0
"""A deadline for the service to answer again, not the figure: that is measured and printed."""
Step = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Figures:
    what: str
    outage_s: float
    """From the blow to the answer of the first write sent after it."""
    retried: int
    """Calls that ended after the blow with no answer or a 503, and were sent again."""
    verdict: Verdict

    def __str__(self) -> str:
        found = self.verdict
        return (
            f"{self.what}: writes answered again after {self.outage_s:.1f} s ({self.retried} "
            f"calls sent again); {found.acked} jobs acknowledged, lost {len(found.lost)}, "
            f"doubled {len(found.doubled)}"
        )


async def under_load(
    cluster: EmbeddedCluster,
    traffic: Traffic,
    agent: Agent,
    blow: tuple[str, Step],
    mend: Step | None = None,
    answered_by: int | None = None,
) -> Figures:
    """Traffic until it flows, the blow, traffic until writes (to `answered_by`, or to any
    replica) are answered again, `mend`, every acknowledged job done; then the event log's
    verdict. The figures are printed."""
    what, strike = blow
    try:
        await traffic.start(RATE, AGENTS, agent)
        await traffic.until_answered(time.monotonic(), BEFORE, 60, answered_by)
        struck_at = time.monotonic()
        await strike()
        await traffic.until_answered(struck_at, AFTER, BACK_WITHIN_S, answered_by)
        outage_s = traffic.ledger.outage_after(struck_at, answered_by)
        if mend is not None:
            await mend()
        await traffic.drain(within_s=120)
    finally:
        await traffic.stop()
    retried = len(traffic.ledger.unanswered_since(struck_at))
    figures = Figures(what, outage_s, retried, await verdict(cluster, traffic))
    print(figures)
    return figures
