"""Queue read model: depth and waits per pool and priority, in-flight jobs, dead letters and
unique keys."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple, cast

from pydantic import BaseModel

from domain.job import Job
from domain.job_effects import Entering, entered_queue, status_after
from domain.job_status import LEASED, JobStatus
from domain.model import DomainEvent
from domain.queue import PRIORITY_ORDER, Priority, QueueSpec
from domain.recorded import RecordedEvent
from projections.summary import p95

RECENT = 1000
RECENT_COMMANDS = 10_000
"""Unique-key creations remembered by command id: a retried request comes within seconds."""


class LevelStats(BaseModel):
    pool: str
    priority: Priority
    depth: int
    oldest_wait_s: float | None
    wait_p50_s: float | None
    wait_p95_s: float | None
    in_flight: int
    dead_letters: int
    completions_per_min: int


class DeadLetter(BaseModel):
    job_id: str
    pool: str
    priority: Priority
    reason: str
    attempts: int
    at: datetime


class Ticket(NamedTuple):
    """A queued job as its pool's line holds it."""

    job_id: str
    priority: Priority
    not_before: datetime | None
    """Its `run_at`, or the end of its backoff after a failed attempt, whichever is later."""


class QueueBoard:
    name: ClassVar[str] = "queue"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self) -> None:
        """Jobs are held while in the queue's care (queued, leased or dead-lettered) and
        forgotten once finished: the board stays the size of the work in flight, not of all
        history, and so does every figure computed over it."""
        self.specs: dict[str, QueueSpec] = {}
        self.status: dict[str, JobStatus] = {}
        self.queued_at: dict[str, datetime] = {}
        self.tickets: dict[str, int] = {}
        """Job id -> the sequence of the event that queued it, its ticket: a job back from an
        attempt keeps its ticket, and its place in line."""
        self.retry_at: dict[str, datetime] = {}
        """Queued jobs backing off after a failed attempt: when the backoff ends."""
        self.dead: dict[str, DeadLetter] = {}
        self.waits: dict[tuple[str, Priority], deque[float]] = {}
        self.completions: dict[tuple[str, Priority], deque[datetime]] = {}
        self.pools_seen: set[str] = set()
        self.unique: dict[str, list[str]] = {}
        """Unique key -> the unfinished jobs holding it, oldest first."""
        self.generations: dict[str, int] = {}
        """Unique key -> how many jobs were ever created with it (a new one's id derives from
        the count): one entry per distinct key, however many jobs it had."""
        self.unique_by_command: dict[str, str] = {}
        """Command id -> the unique-key job it created, so a retried request finds that job; the
        newest `RECENT_COMMANDS` only."""

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Job.KIND:
            return
        job_id, event = recorded.aggregate_id, recorded.event
        spec = entered_queue(event)
        if spec is not None:
            self._queued(job_id, spec, recorded)
        elif job_id in self.specs:  # a job only reported through the dashboard is not the queue's
            step = _STEPS.get(type(event))
            if step is not None:
                step(self, job_id, recorded, event)

    def _on_claimed(self, job_id: str, recorded: RecordedEvent, e: Job.Claimed) -> None:
        self._claimed(job_id, recorded.at, status_after(e))

    def _on_retry(
        self, job_id: str, recorded: RecordedEvent, e: Job.Failed | Job.AttemptLost
    ) -> None:
        if e.retry_at:
            self._enter_queue(job_id, recorded.at, status_after(e))
            self.retry_at[job_id] = e.retry_at

    def _on_released(self, job_id: str, recorded: RecordedEvent, e: Job.Released) -> None:
        self._enter_queue(job_id, recorded.at, status_after(e))

    def _on_started(self, job_id: str, _: RecordedEvent, e: Job.Started) -> None:
        self._set(job_id, status_after(e))

    def _on_completed(self, job_id: str, recorded: RecordedEvent, _: Job.Completed) -> None:
        self._count_completion(job_id, recorded.at)
        self._forget(job_id)

    def _on_dead_lettered(self, job_id: str, recorded: RecordedEvent, e: Job.DeadLettered) -> None:
        spec = self.specs[job_id]
        self._set(job_id, status_after(e))
        self.dead[job_id] = DeadLetter(
            job_id=job_id,
            pool=spec.pool,
            priority=spec.priority,
            reason=e.reason,
            attempts=e.attempts,
            at=recorded.at,
        )

    def _queued(self, job_id: str, spec: QueueSpec, recorded: RecordedEvent) -> None:
        self.specs[job_id] = spec
        self.tickets[job_id] = recorded.seq
        self.pools_seen.add(spec.pool)
        key = spec.unique_key
        if key:
            held = self.unique.setdefault(key, [])
            if job_id not in held:  # a finished job run again holds its key again
                held.append(job_id)
            if not isinstance(recorded.event, Job.Requeued):
                self.generations[key] = self.generations.get(key, 0) + 1
                self._remember(recorded.cause.command_id, job_id)
        self.dead.pop(job_id, None)
        self._enter_queue(job_id, recorded.at, status_after(cast(Entering, recorded.event)))

    def _remember(self, command_id: str, job_id: str) -> None:
        self.unique_by_command[command_id] = job_id
        if len(self.unique_by_command) > RECENT_COMMANDS:
            del self.unique_by_command[next(iter(self.unique_by_command))]

    def _forget(self, job_id: str) -> None:
        spec = self.specs.pop(job_id)
        self.status.pop(job_id, None)
        self.queued_at.pop(job_id, None)
        self.tickets.pop(job_id, None)
        self.retry_at.pop(job_id, None)
        self.dead.pop(job_id, None)  # a dead letter cancelled is no longer one
        key = spec.unique_key
        if key and job_id in self.unique.get(key, ()):
            self.unique[key].remove(job_id)
            if not self.unique[key]:
                del self.unique[key]

    def _set(self, job_id: str, status: JobStatus) -> None:
        self.status[job_id] = status
        if status is not JobStatus.QUEUED:
            self.queued_at.pop(job_id, None)
            self.retry_at.pop(job_id, None)

    def _enter_queue(self, job_id: str, at: datetime, status: JobStatus) -> None:
        self._set(job_id, status)
        self.queued_at[job_id] = at
        self.retry_at.pop(job_id, None)  # only a failure's own event starts a backoff

    def _claimed(self, job_id: str, at: datetime, status: JobStatus) -> None:
        since = self.queued_at.get(job_id)
        if since is not None:
            self._recent(self.waits, job_id).append((at - since).total_seconds())
        self._set(job_id, status)

    def _count_completion(self, job_id: str, at: datetime) -> None:
        self._recent(self.completions, job_id).append(at)

    def _recent(self, table: dict[tuple[str, Priority], deque[Any]], job_id: str) -> deque[Any]:
        spec = self.specs[job_id]
        return table.setdefault((spec.pool, spec.priority), deque(maxlen=RECENT))

    def active_for_key(self, unique_key: str) -> tuple[str | None, int]:
        """The newest unfinished job holding `unique_key`, and how many jobs were ever created
        with it."""
        held = self.unique.get(unique_key)
        return held[-1] if held else None, self.generations.get(unique_key, 0)

    def dead_letters(self) -> list[DeadLetter]:
        return sorted(self.dead.values(), key=lambda d: d.at, reverse=True)

    def pools(self) -> set[str]:
        return set(self.pools_seen)

    def line(self, pool: str) -> list[Ticket]:
        """The pool's queued jobs in ticket order, FIFO as the queue's consumers read them."""
        queued = sorted(self.queued_at.keys() & self.tickets.keys(), key=self.tickets.__getitem__)
        specs = ((job_id, self.specs[job_id]) for job_id in queued)
        return [
            Ticket(job_id, spec.priority, self._not_before(job_id, spec))
            for job_id, spec in specs
            if spec.pool == pool
        ]

    def _not_before(self, job_id: str, spec: QueueSpec) -> datetime | None:
        times = [t for t in (spec.run_at, self.retry_at.get(job_id)) if t is not None]
        return max(times, default=None)

    def stats(self, now: datetime) -> list[LevelStats]:
        return [
            self._level(pool, prio, now) for pool in sorted(self.pools()) for prio in PRIORITY_ORDER
        ]

    def _level(self, pool: str, prio: Priority, now: datetime) -> LevelStats:
        mine = [j for j, s in self.specs.items() if (s.pool, s.priority) == (pool, prio)]
        queued = [self.queued_at[j] for j in mine if j in self.queued_at]
        waits = sorted(self.waits.get((pool, prio), ()))
        minute_ago = now - timedelta(minutes=1)
        return LevelStats(
            pool=pool,
            priority=prio,
            depth=len(queued),
            oldest_wait_s=(now - min(queued)).total_seconds() if queued else None,
            wait_p50_s=waits[(len(waits) - 1) // 2] if waits else None,
            wait_p95_s=p95(waits),
            in_flight=sum(1 for j in mine if self.status.get(j) in LEASED),
            dead_letters=sum(1 for d in self.dead.values() if (d.pool, d.priority) == (pool, prio)),
            completions_per_min=sum(
                1 for t in self.completions.get((pool, prio), ()) if t >= minute_ago
            ),
        )

    def dump(self) -> Any:
        return {
            "specs": {j: s.model_dump(mode="json") for j, s in self.specs.items()},
            "status": self.status,
            "queued_at": {j: t.isoformat() for j, t in self.queued_at.items()},
            "tickets": self.tickets,
            "retry_at": {j: t.isoformat() for j, t in self.retry_at.items()},
            "dead": [d.model_dump(mode="json") for d in self.dead.values()],
            "waits": [[p, pr, list(w)] for (p, pr), w in self.waits.items()],
            "completions": [
                [p, pr, [t.isoformat() for t in c]] for (p, pr), c in self.completions.items()
            ],
            "pools_seen": sorted(self.pools_seen),
            "unique": self.unique,
            "generations": self.generations,
            "unique_by_command": self.unique_by_command,
        }

    def restore(self, data: Any) -> None:
        self.specs = {j: QueueSpec.model_validate(s) for j, s in data["specs"].items()}
        self.status = {j: JobStatus(s) for j, s in data["status"].items()}
        self.queued_at = {j: datetime.fromisoformat(t) for j, t in data["queued_at"].items()}
        self.tickets = dict(data["tickets"])
        self.retry_at = {j: datetime.fromisoformat(t) for j, t in data["retry_at"].items()}
        self.dead = {d["job_id"]: DeadLetter.model_validate(d) for d in data["dead"]}
        self.waits = {(p, Priority(pr)): deque(w, maxlen=RECENT) for p, pr, w in data["waits"]}
        self.completions = {
            (p, Priority(pr)): deque(map(datetime.fromisoformat, c), maxlen=RECENT)
            for p, pr, c in data["completions"]
        }
        self.pools_seen = set(data["pools_seen"])
        self.unique = {k: list(v) for k, v in data["unique"].items()}
        self.generations = dict(data["generations"])
        self.unique_by_command = dict(data["unique_by_command"])


_STEPS: dict[type[DomainEvent], Callable[[QueueBoard, str, RecordedEvent, Any], None]] = {
    Job.Claimed: QueueBoard._on_claimed,
    Job.Failed: QueueBoard._on_retry,
    Job.AttemptLost: QueueBoard._on_retry,
    Job.Released: QueueBoard._on_released,
    Job.Started: QueueBoard._on_started,
    Job.Completed: QueueBoard._on_completed,
    Job.DeadLettered: QueueBoard._on_dead_lettered,
}
"""What each event of a queued job does to the board, by its class (projections.job_rows
says why a table and not a `match`)."""
