"""Jobs finished per hour, for the overview's 24-hour chart.

Bounded: one bucket per hour, only as far back as `KEEP` before the newest finish, so a year of
history costs what two days do. Exact for any window that ends no earlier than `KEEP - DAY`
before the newest finish, which covers every read at or after that finish: the only kind the
overview makes (now, or an `as_of` point whose state holds nothing later).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from domain.job import Job
from domain.job_status import JobStatus
from domain.model import DomainEvent
from domain.recorded import RecordedEvent

HOUR = timedelta(hours=1)
DAY = 24
"""Hours in the chart's window."""
KEEP = timedelta(hours=48)
"""How far before the newest finish buckets are kept: twice the window, for a margin."""


def hour_of(when: datetime) -> datetime:
    """The start of the UTC hour holding `when`."""
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class HourCount:
    """Jobs that finished in the hour from `start`: successes, and every other outcome."""

    start: datetime
    success: int
    other: int

    @property
    def total(self) -> int:
        return self.success + self.other


class HourlyFinishes:
    """A job finishes with its `Completed` event, whatever its status; a dead letter is not
    finished, since it may be queued again."""

    name: ClassVar[str] = "throughput"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset[type[DomainEvent]](
        (
            Job.Created,
            Job.Queued,
            Job.Requeued,
            Job.Claimed,
            Job.Started,
            Job.Failed,
            Job.AttemptLost,
            Job.Released,
            Job.DeadLettered,
        )
    )

    def __init__(self) -> None:
        self.hours: dict[datetime, Counter[JobStatus]] = {}
        self._last: tuple[float, float, Counter[JobStatus]] | None = None
        """(start, end) as POSIX times of the bucket the last finish went to, and its counts:
        finishes come in time order, so most land where the last one did, and comparing two
        floats costs far less than working out an aware datetime's hour."""

    @property
    def newest(self) -> datetime | None:
        """The newest bucket's hour: pruning keeps it, so it is always the newest finish's."""
        return max(self.hours, default=None)

    def apply(self, recorded: RecordedEvent) -> None:
        if isinstance(recorded.event, Job.Completed):
            self.add(recorded.at, recorded.event.status)

    def add(self, at: datetime, status: JobStatus) -> None:
        last = self._last
        if last is not None and last[0] <= at.timestamp() < last[1]:
            last[2][status] += 1
            return
        hour = hour_of(at)
        newest = self.newest
        if newest is not None and hour < newest - KEEP:
            return  # a late report from before the kept hours: no window that is read holds it
        counts = self.hours.get(hour)
        if counts is None:
            counts = self.hours[hour] = Counter()
        counts[status] += 1
        start = hour.timestamp()
        self._last = (start, start + HOUR.total_seconds(), counts)
        if newest is None or hour > newest:
            horizon = hour - KEEP
            for old in [h for h in self.hours if h < horizon]:
                del self.hours[old]

    def last_day(self, end: datetime) -> list[HourCount]:
        """The 24 hours up to the one holding `end`, oldest first, empty hours as zeros. A
        finish stamped in a later hour than `end` (the API's clock ahead of the stream's, which
        times an `as_of` point) moves the window up to it: what the state holds is shown."""
        last = max(hour_of(end), self.newest or hour_of(end))
        return [self._count(last - (DAY - 1 - i) * HOUR) for i in range(DAY)]

    def _count(self, hour: datetime) -> HourCount:
        counts = self.hours.get(hour, Counter())
        success = counts[JobStatus.SUCCESS]
        return HourCount(hour, success, counts.total() - success)

    def dump(self) -> Any:
        return {
            hour.isoformat(): {s.value: n for s, n in counts.items()}
            for hour, counts in self.hours.items()
        }

    def restore(self, data: Any) -> None:
        self._last = None
        self.hours = {
            datetime.fromisoformat(hour): Counter({JobStatus(s): n for s, n in counts.items()})
            for hour, counts in data.items()
        }
