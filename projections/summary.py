"""Dashboard summary figures, kept incrementally so a poll costs little."""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from domain.deployment import Deployment, Environment
from domain.job import Job
from domain.job_effects import status_after
from domain.job_status import FINISHED, JobStatus
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from projections.sketch import DurationSketch

WINDOW = timedelta(hours=24)
"""The summary's window for recent deployments."""


class DurationStats(BaseModel):
    count: int
    mean_s: float | None
    p95_s: float | None


class Summary(BaseModel):
    jobs_total: int
    jobs_by_status: dict[JobStatus, int]
    success_rate: float | None
    """Successes over finished jobs (cancelled ones excluded)."""
    duration: DurationStats
    running_now: int
    deployments_last_24h: int
    live_versions: dict[str, dict[Environment, str]]
    as_of_seq: int


def p95(sorted_values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(0.95 * len(sorted_values)) - 1)]


class JobStats:
    """Holds only what the summary needs, bounded by the jobs in flight: finished jobs are
    counted, not kept (a finished job never changes again), durations go to a sketch, and
    deployment times only as far back as the summary's 24-hour window from the newest."""

    name: ClassVar[str] = "job_stats"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND, Deployment.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset[type[DomainEvent]](
        (
            Deployment.StageStarted,
            Deployment.StageSucceeded,
            Deployment.StageFailed,
            Deployment.Superseded,
            Deployment.RolledBack,
            Deployment.Restored,
        )
    )

    def __init__(self) -> None:
        self.status_of: dict[str, JobStatus] = {}
        """Jobs not yet finished."""
        self.by_status: Counter[JobStatus] = Counter()
        self.durations = DurationSketch()
        self.started: dict[str, datetime] = {}
        self.deployment_times: deque[datetime] = deque()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind == Deployment.KIND:
            if isinstance(recorded.event, Deployment.Created):
                self._deployed(recorded.at)
            return
        if recorded.kind != Job.KIND:
            return
        job_id, e = recorded.aggregate_id, recorded.event
        step = _STEPS.get(type(e))
        if step is not None:
            step(self, job_id, e)
        status = status_after(e)
        if status is not None:
            self._move(job_id, status)

    def _on_started(self, job_id: str, e: Job.Started) -> None:
        self.started[job_id] = e.timestamp

    def _on_completed(self, job_id: str, e: Job.Completed) -> None:
        began = self.started.pop(job_id, None)
        if began is not None and e.status is not JobStatus.CANCELLED:
            self.durations.add((e.timestamp - began).total_seconds())

    def _on_dead_lettered(self, job_id: str, _: Job.DeadLettered) -> None:
        self.started.pop(job_id, None)

    def _move(self, job_id: str, status: JobStatus) -> None:
        old = self.status_of.pop(job_id, None)
        if old is not None:
            self.by_status[old] -= 1
        if status not in FINISHED:
            self.status_of[job_id] = status
        self.by_status[status] += 1

    def _deployed(self, at: datetime) -> None:
        times = self.deployment_times
        times.append(at)
        # From this one, not the newest: an out-of-order time prunes less, never too much.
        horizon = at - WINDOW
        while times[0] < horizon:
            times.popleft()

    def success_rate(self) -> float | None:
        judged = sum(self.by_status[s] for s in FINISHED if s is not JobStatus.CANCELLED)
        return self.by_status[JobStatus.SUCCESS] / judged if judged else None

    def duration(self) -> DurationStats:
        sketch = self.durations
        return DurationStats(count=sketch.count, mean_s=sketch.mean(), p95_s=sketch.quantile(0.95))

    def deployments_since(self, since: datetime) -> int:
        """Exact for `since` no earlier than a day before the newest deployment, which covers
        every `now` from then on: the only kind the summary asks with."""
        return sum(1 for t in self.deployment_times if t >= since)

    def summary(self, now: datetime, live: dict[str, dict[Environment, str]], seq: int) -> Summary:
        return Summary(
            jobs_total=self.by_status.total(),
            jobs_by_status={s: self.by_status[s] for s in JobStatus},
            success_rate=self.success_rate(),
            duration=self.duration(),
            running_now=self.by_status[JobStatus.RUNNING],
            deployments_last_24h=self.deployments_since(now - WINDOW),
            live_versions=live,
            as_of_seq=seq,
        )

    def dump(self) -> Any:
        """Times as datetimes, which orjson writes as `isoformat` does."""
        return {
            "status_of": self.status_of,
            "finished": {s.value: self.by_status[s] for s in FINISHED if self.by_status[s]},
            "durations": self.durations.dump(),
            "started": self.started,
            "deployment_times": list(self.deployment_times),
        }

    def restore(self, data: Any) -> None:
        statuses = {status.value: status for status in JobStatus}  # cheaper than JobStatus(v)
        self.status_of = {k: statuses[v] for k, v in data["status_of"].items()}
        self.by_status = Counter(self.status_of.values())
        self.by_status.update({statuses[s]: n for s, n in data["finished"].items()})
        self.durations = DurationSketch.restore(data["durations"])
        self.started = {k: datetime.fromisoformat(v) for k, v in data["started"].items()}
        self.deployment_times = deque(datetime.fromisoformat(t) for t in data["deployment_times"])


_STEPS: dict[type[DomainEvent], Callable[[JobStats, str, Any], None]] = {
    Job.Started: JobStats._on_started,
    Job.Completed: JobStats._on_completed,
    Job.DeadLettered: JobStats._on_dead_lettered,
}
"""What a job event does to the figures besides moving its job's status (`status_after`), by its
class (projections.job_rows says why a table and not a `match`)."""
