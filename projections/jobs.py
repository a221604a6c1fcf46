"""Job board: every job with its status history, filters, newest first, and running jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.job import Job, JobStatus
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.paging import ArrivalIndex


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: JobStatus
    at: datetime
    seq: int
    actor: str
    event: str
    agent_id: str | None = None
    reason: str = ""


class Change(NamedTuple):
    """A StatusChange as the board keeps it; made once per event, so kept light."""

    status: JobStatus
    at: datetime
    seq: int
    actor: str
    event: str
    agent_id: str | None
    reason: str


class JobView(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    status: JobStatus
    job_type: str
    git: GitContext
    metadata: dict[str, str]
    agent_id: str | None = None
    created_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    summary: str = ""
    log_url: str | None = None
    artifact_urls: tuple[str, ...] = ()
    queue: QueueSpec | None = None
    attempts: int = 0
    history: tuple[StatusChange, ...] = ()
    last_seq: int


class JobFilter(BaseModel):
    status: JobStatus | None = None
    repo: str | None = None
    ref: str | None = None
    agent_id: str | None = None
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None

    def keep(self, job: JobRow | JobView) -> bool:
        return (
            (self.status is None or job.status is self.status)
            and (self.repo is None or job.git.repo == self.repo)
            and (self.ref is None or job.git.ref == self.ref)
            and (self.agent_id is None or job.agent_id == self.agent_id)
            and (self.created_from is None or job.created_at >= self.created_from)
            and (self.created_to is None or job.created_at < self.created_to)
        )


@dataclass(slots=True)
class JobRow:
    """A job as the board keeps it: changed in place, one event at a time.

    Replays apply every event of the log here, so the board keeps plain slotted records and
    builds the validated `JobView` only when a reader asks (measured: copying a pydantic model
    per event cost more than decoding the event). The two declare the same fields; a unit test
    keeps them in step.
    """

    job_id: str
    status: JobStatus
    job_type: str
    git: GitContext
    metadata: dict[str, str]
    created_at: datetime
    last_seq: int
    agent_id: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    summary: str = ""
    log_url: str | None = None
    artifact_urls: tuple[str, ...] = ()
    queue: QueueSpec | None = None
    attempts: int = 0
    history: list[Change] = field(default_factory=list)

    def move(self, recorded: RecordedEvent, status: JobStatus, reason: str = "") -> None:
        self.status = status
        self.last_seq = recorded.seq
        self.history.append(
            Change(
                status,
                recorded.at,
                recorded.seq,
                recorded.cause.actor,
                recorded.type,
                self.agent_id,
                reason,
            )
        )

    def view(self) -> JobView:
        fields = {name: getattr(self, name) for name in self.__slots__}
        history = [StatusChange(**change._asdict()) for change in self.history]
        return JobView(**(fields | {"history": history}))


def created(recorded: RecordedEvent, e: Job.Created) -> JobRow:
    status = JobStatus.PENDING if e.spec is None else JobStatus.QUEUED
    row = JobRow(
        job_id=recorded.aggregate_id,
        status=status,
        job_type=e.job_type,
        git=e.git,
        metadata=e.metadata,
        created_at=e.timestamp,
        last_seq=recorded.seq,
        queued_at=None if e.spec is None else e.timestamp,
        queue=e.spec,
    )
    row.move(recorded, status)
    return row


def evolve(row: JobRow, recorded: RecordedEvent) -> None:
    """Fold one event into a job's row; deterministic, so replays agree."""
    match recorded.event:
        case Job.Queued() as e:
            row.queue, row.queued_at = e.spec, e.timestamp
            row.move(recorded, JobStatus.QUEUED)
        case Job.Requeued() as e:
            row.attempts = 0
            row.move(recorded, JobStatus.QUEUED, e.reason)
        case Job.Claimed() as e:
            row.agent_id, row.attempts = e.agent_id, e.attempt
            row.move(recorded, JobStatus.CLAIMED)
        case Job.Started() as e:
            row.agent_id, row.started_at = e.agent_id or row.agent_id, e.timestamp
            row.move(recorded, JobStatus.RUNNING)
        case Job.Completed() as e:
            _completed(row, recorded, e)
        case Job.Failed() as e:
            row.exit_code = e.exit_code
            why = f"attempt {e.attempt} failed ({e.failure_class.value}): {e.error}"
            row.move(recorded, JobStatus.QUEUED, why)
        case Job.AttemptLost() as e:
            row.move(
                recorded, JobStatus.QUEUED, f"attempt {e.attempt} lost by {e.agent_id}: {e.reason}"
            )
        case Job.Released() as e:
            row.attempts = e.attempt - 1
            row.move(recorded, JobStatus.QUEUED, f"attempt {e.attempt} released by {e.agent_id}")
        case Job.DeadLettered() as e:
            row.move(recorded, JobStatus.DEAD_LETTERED, e.reason)


def _completed(row: JobRow, recorded: RecordedEvent, e: Job.Completed) -> None:
    began = row.started_at
    row.finished_at = e.timestamp
    row.duration_s = (e.timestamp - began).total_seconds() if began else None
    row.exit_code, row.summary = e.exit_code, e.summary
    row.log_url, row.artifact_urls = e.log_url, e.artifact_urls
    row.move(recorded, e.status, e.summary if e.status is JobStatus.CANCELLED else "")


class JobBoard:
    name: ClassVar[str] = "jobs"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND})

    def __init__(self) -> None:
        self.jobs: dict[str, JobRow] = {}
        self.arrivals: ArrivalIndex[str] = ArrivalIndex()
        self.running: set[str] = set()

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind != Job.KIND:
            return
        job_id = recorded.aggregate_id
        row = self.jobs.get(job_id)
        if row is None:
            if not isinstance(recorded.event, Job.Created):
                return
            row = self.jobs[job_id] = created(recorded, recorded.event)
            self.arrivals.add(recorded.seq, job_id)
        else:
            evolve(row, recorded)
        if row.status is JobStatus.RUNNING:
            self.running.add(job_id)
        else:
            self.running.discard(job_id)

    def get(self, job_id: str) -> JobView | None:
        row = self.jobs.get(job_id)
        return None if row is None else row.view()

    def page(
        self, flt: JobFilter, limit: int, before: int | None = None
    ) -> tuple[list[JobView], int | None]:
        ids, cursor = self.arrivals.page(lambda i: flt.keep(self.jobs[i]), limit, before)
        return [self.jobs[i].view() for i in ids], cursor

    def list_running(self) -> list[JobView]:
        rows = sorted((self.jobs[i] for i in self.running), key=lambda j: j.last_seq, reverse=True)
        return [row.view() for row in rows]

    def dump(self) -> Any:
        packer = Packer()
        rows = [packer.pack(row) for row in self.jobs.values()]
        return {
            "arrivals": list(zip(self.arrivals.seqs, self.arrivals.rows, strict=True)),
            "strings": list(packer.strings),
            "gits": [git.__dict__ for git in packer.gits],  # only strings: its JSON form
            "history": packer.history,
            "rows": rows,
        }

    def restore(self, data: Any) -> None:
        self.jobs.clear()
        self.running.clear()
        self.arrivals = ArrivalIndex()
        for seq, job_id in data["arrivals"]:
            self.arrivals.add(seq, job_id)
        gits = [GitContext.model_construct(None, **fields) for fields in data["gits"]]
        changes = _changes(data["history"], data["strings"])
        start = 0
        for packed in data["rows"]:
            row = unpack(packed, gits, changes, start)
            start += len(row.history)
            self.jobs[row.job_id] = row
            if row.status is JobStatus.RUNNING:
                self.running.add(row.job_id)


# Snapshots hold every job, so rows are stored as positional lists (in slot order) and rebuilt
# without validation: the snapshot's code version is this file's, so it holds what this code
# wrote. Going through JobView cost seconds per snapshot at 200,000 events, and field by field
# packing still most of a second: a restore is the cold cost of every past state. The history
# (most of a picture) is one flat list per job, its actor, event and agent id numbers into a
# table of strings: a list and three strings per change made the picture 68 MB at 200,000
# events and its parse most of a restore. Git contexts, shared by many jobs, are a table too.
_ROW = attrgetter(*JobRow.__slots__)
_AT = {name: i for i, name in enumerate(JobRow.__slots__)}
_TIMES = tuple(_AT[name] for name in ("created_at", "queued_at", "started_at", "finished_at"))
_STATUSES = {status.value: status for status in JobStatus}
"""A dict lookup: calling the enum class costs several times more, once per row and change."""
_WIDTH = len(Change._fields)
_NUMBERED = tuple(Change._fields.index(name) for name in ("actor", "event", "agent_id"))


class Packer:
    """Packs rows for one picture, numbering the strings and git contexts they repeat."""

    def __init__(self) -> None:
        self.strings: dict[str | None, int] = {}
        self.gits: dict[GitContext, int] = {}
        self.history: list[Any] = []
        """Every job's changes, job after job, `_WIDTH` fields each; a row holds its count."""

    def pack(self, row: JobRow) -> list[Any]:
        """orjson writes the datetimes and enums; the queue spec as a dict."""
        out = list(_ROW(row))
        out[_AT["git"]] = self.gits.setdefault(row.git, len(self.gits))
        if row.queue is not None:
            out[_AT["queue"]] = row.queue.model_dump(mode="json")
        out[_AT["history"]] = len(row.history)
        ids, flat = self.strings, self.history
        for status, at, seq, actor, event, agent_id, reason in row.history:
            flat += (
                status,
                at,
                seq,
                ids.setdefault(actor, len(ids)),
                ids.setdefault(event, len(ids)),
                ids.setdefault(agent_id, len(ids)),
                reason,
            )
        return out


def unpack(packed: list[Any], gits: list[GitContext], changes: list[Change], start: int) -> JobRow:
    """`gits`: the picture's table (a frozen context is shared by its jobs); `changes`: every
    job's, this one's from `start` on."""
    for i in _TIMES:
        if packed[i] is not None:
            packed[i] = datetime.fromisoformat(packed[i])
    packed[_AT["status"]] = _STATUSES[packed[_AT["status"]]]
    packed[_AT["git"]] = gits[packed[_AT["git"]]]
    if packed[_AT["queue"]] is not None:
        packed[_AT["queue"]] = QueueSpec.model_validate(packed[_AT["queue"]])
    packed[_AT["artifact_urls"]] = tuple(packed[_AT["artifact_urls"]])
    packed[_AT["history"]] = changes[start : start + packed[_AT["history"]]]
    return JobRow(*packed)


def _changes(flat: list[Any], strings: list[Any]) -> list[Change]:
    """Column by column through C-level maps, once for the whole picture: a Python call per
    change (there are several per job) cost more than the rest of a restore."""
    flat[0::_WIDTH] = map(_STATUSES.__getitem__, flat[0::_WIDTH])
    flat[1::_WIDTH] = map(datetime.fromisoformat, flat[1::_WIDTH])
    for column in _NUMBERED:
        flat[column::_WIDTH] = map(strings.__getitem__, flat[column::_WIDTH])
    changes = zip(*[iter(flat)] * _WIDTH, strict=True)  # consecutive runs of one change's fields
    return list(map(tuple.__new__, repeat(Change), changes))
