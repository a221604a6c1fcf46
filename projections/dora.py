"""The four DORA metrics, computed from a small history: pure, so a hand-built history has a
known answer. The definitions are the ones `wire/dora.py` prints and docs/architecture.md keeps.

A window is the `days` before its end. The history is the log as it stood at that end (the
request's time, or the `as_of` point), so the window holds whatever in it is timed after the
start. An event's own time is never compared with the end: it comes from the API's clock and the
end from the stream's, and an event committed before the end belongs in, whatever its clock said.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class Release:
    """A deployment that entered production, reduced to what the metrics read."""

    service: str
    sha: str
    live_at: datetime | None = None
    failed_at: datetime | None = None
    """Its production stage failed."""
    rolled_back_at: datetime | None = None

    @property
    def finished_at(self) -> datetime | None:
        """When production gave its verdict: live, failed, or rolled back before either."""
        return self.live_at or self.failed_at or self.rolled_back_at

    @property
    def failure_at(self) -> datetime | None:
        """A failed stage comes before any rollback of it, so it is the first sign."""
        return self.failed_at or self.rolled_back_at


@dataclass(frozen=True)
class History:
    first_seen: Mapping[str, datetime]
    """Commit SHA (lower case) -> when the first job carrying it was created."""
    releases: Sequence[Release]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def holds(self, when: datetime | None) -> bool:
        """The end needs no check: the history holds nothing after it (see above)."""
        return when is not None and when > self.start


@dataclass(frozen=True)
class DeploymentFrequency:
    deployments: int
    per_day: float


@dataclass(frozen=True)
class LeadTime:
    changes: int
    without_job: int
    median_s: float | None
    p95_s: float | None


@dataclass(frozen=True)
class ChangeFailureRate:
    deployments: int
    failed: int
    rate: float | None


@dataclass(frozen=True)
class TimeToRestore:
    failures: int
    restored: int
    median_s: float | None


@dataclass(frozen=True)
class DoraFigures:
    window_start: datetime
    window_end: datetime
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    time_to_restore: TimeToRestore


def dora(history: History, end: datetime, days: int, service: str | None = None) -> DoraFigures:
    """The metrics of the `days` up to `end`, for one service or (None) all of them."""
    window = Window(end - timedelta(days=days), end)
    releases = [r for r in history.releases if service is None or r.service == service]
    return DoraFigures(
        window_start=window.start,
        window_end=window.end,
        deployment_frequency=deployment_frequency(releases, window, days),
        lead_time=lead_time(releases, history.first_seen, window),
        change_failure_rate=change_failure_rate(releases, window),
        time_to_restore=time_to_restore(releases, window),
    )


def deployment_frequency(
    releases: Iterable[Release], window: Window, days: int
) -> DeploymentFrequency:
    count = sum(1 for r in releases if window.holds(r.live_at))
    return DeploymentFrequency(deployments=count, per_day=count / days)


def lead_time(
    releases: Iterable[Release], first_seen: Mapping[str, datetime], window: Window
) -> LeadTime:
    samples: list[float] = []
    without_job = 0
    for (_, sha), live_at in first_go_lives(releases).items():
        if not window.holds(live_at):
            continue
        seen = first_seen.get(sha)
        if seen is None or seen > live_at:
            without_job += 1
        else:
            samples.append((live_at - seen).total_seconds())
    return LeadTime(len(samples), without_job, median(samples), percentile(samples, 95))


def first_go_lives(releases: Iterable[Release]) -> dict[tuple[str, str], datetime]:
    """(service, SHA) -> when it first went live: the change; a later deployment of the same
    SHA to the same service delivers none."""
    live: dict[tuple[str, str], datetime] = {}
    for r in releases:
        key = (r.service, r.sha)
        if r.live_at is not None and (key not in live or r.live_at < live[key]):
            live[key] = r.live_at
    return live


def change_failure_rate(releases: Iterable[Release], window: Window) -> ChangeFailureRate:
    judged = [r for r in releases if window.holds(r.finished_at)]
    failed = sum(1 for r in judged if r.failure_at is not None)
    rate = failed / len(judged) if judged else None
    return ChangeFailureRate(deployments=len(judged), failed=failed, rate=rate)


def time_to_restore(releases: Sequence[Release], window: Window) -> TimeToRestore:
    """Each failure is restored by the service's next deployment that goes live after it."""
    lives = go_lives_by_service(releases)
    samples: list[float] = []
    failures = 0
    for r in releases:
        failed = r.failure_at
        if failed is None or not window.holds(failed):
            continue
        failures += 1
        times = lives.get(r.service, [])
        later = bisect_right(times, failed)
        if later < len(times):
            samples.append((times[later] - failed).total_seconds())
    return TimeToRestore(failures=failures, restored=len(samples), median_s=median(samples))


def go_lives_by_service(releases: Iterable[Release]) -> dict[str, list[datetime]]:
    """Each service's go-live times, in order."""
    lives: dict[str, list[datetime]] = {}
    for r in releases:
        if r.live_at is not None:
            lives.setdefault(r.service, []).append(r.live_at)
    for times in lives.values():
        times.sort()
    return lives


def median(values: Sequence[float]) -> float | None:
    """The middle value; for an even count, the mean of the two middle ones."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], p: int) -> float | None:
    """Nearest rank: the smallest value that at least `p`% of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
