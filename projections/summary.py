"""Dashboard summary figures, kept incrementally so a poll costs little."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from domain.deployment import Deployment, Environment
from domain.job import FINISHED, Job, JobStatus
from domain.recorded import RecordedEvent


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
    name: ClassVar[str] = "job_stats"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND, Deployment.KIND})

    def __init__(self) -> None:
        self.status_of: dict[str, JobStatus] = {}
        self.by_status: Counter[JobStatus] = Counter()
        self.durations: list[float] = []
        """Unsorted until a reader asks: sorting per completion is O(n) each."""
        self.durations_sorted = True
        self.started: dict[str, datetime] = {}
        self.deployment_times: list[datetime] = []

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind == Deployment.KIND:
            if isinstance(recorded.event, Deployment.Created):
                self.deployment_times.append(recorded.at)
            return
        if recorded.kind != Job.KIND:
            return
        match recorded.event:
            case Job.Created(spec=spec):
                status = JobStatus.PENDING if spec is None else JobStatus.QUEUED
                self._move(recorded.aggregate_id, status)
            case Job.Started() as e:
                self.started[recorded.aggregate_id] = e.timestamp
                self._move(recorded.aggregate_id, JobStatus.RUNNING)
            case Job.Completed() as e:
                began = self.started.pop(recorded.aggregate_id, None)
                if began is not None and e.status is not JobStatus.CANCELLED:
                    self.durations.append((e.timestamp - began).total_seconds())
                    self.durations_sorted = False
                self._move(recorded.aggregate_id, e.status)
            case Job.Queued() | Job.Requeued() | Job.Released():
                self._move(recorded.aggregate_id, JobStatus.QUEUED)
            case Job.Failed(retry_at=retry_at) | Job.AttemptLost(retry_at=retry_at) if retry_at:
                self._move(recorded.aggregate_id, JobStatus.QUEUED)
            case Job.Claimed():
                self._move(recorded.aggregate_id, JobStatus.CLAIMED)
            case Job.DeadLettered():
                self._move(recorded.aggregate_id, JobStatus.DEAD_LETTERED)

    def _move(self, job_id: str, status: JobStatus) -> None:
        old = self.status_of.get(job_id)
        if old is not None:
            self.by_status[old] -= 1
        self.status_of[job_id] = status
        self.by_status[status] += 1

    def success_rate(self) -> float | None:
        judged = sum(self.by_status[s] for s in FINISHED if s is not JobStatus.CANCELLED)
        return self.by_status[JobStatus.SUCCESS] / judged if judged else None

    def sorted_durations(self) -> list[float]:
        if not self.durations_sorted:
            self.durations.sort()
            self.durations_sorted = True
        return self.durations

    def duration(self) -> DurationStats:
        durations = self.sorted_durations()
        n = len(durations)
        return DurationStats(
            count=n, mean_s=sum(durations) / n if n else None, p95_s=p95(durations)
        )

    def deployments_since(self, since: datetime) -> int:
        return sum(1 for t in reversed(self.deployment_times) if t >= since)

    def summary(self, now: datetime, live: dict[str, dict[Environment, str]], seq: int) -> Summary:
        return Summary(
            jobs_total=len(self.status_of),
            jobs_by_status={s: self.by_status[s] for s in JobStatus},
            success_rate=self.success_rate(),
            duration=self.duration(),
            running_now=self.by_status[JobStatus.RUNNING],
            deployments_last_24h=self.deployments_since(now - timedelta(hours=24)),
            live_versions=live,
            as_of_seq=seq,
        )

    def dump(self) -> Any:
        return {
            "status_of": self.status_of,
            "durations": self.sorted_durations(),
            "started": {k: v.isoformat() for k, v in self.started.items()},
            "deployment_times": [t.isoformat() for t in self.deployment_times],
        }

    def restore(self, data: Any) -> None:
        statuses = {status.value: status for status in JobStatus}  # cheaper than JobStatus(v)
        self.status_of = {k: statuses[v] for k, v in data["status_of"].items()}
        self.by_status = Counter(self.status_of.values())
        self.durations = list(data["durations"])
        self.durations_sorted = False
        self.started = {k: datetime.fromisoformat(v) for k, v in data["started"].items()}
        self.deployment_times = [datetime.fromisoformat(t) for t in data["deployment_times"]]
