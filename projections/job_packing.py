"""Job rows in a compact form: packed into pictures and the finished-jobs store, and kept
packed until read in a past state's board."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson

from domain.job_status import FINISHED, JobStatus
from domain.queue import QueueSpec
from domain.values import GitContext
from projections.finished_jobs import Stored, micros
from projections.job_attempts import Attempt, current
from projections.job_rows import Change, JobRow


class PackedRows(dict[str, JobRow]):
    """Job rows that stay as a picture packed them until first read: a page of a past state
    reads tens of the tens of thousands of rows a picture holds, and unpacking them all was most
    of its cost (0.7 s at 60,000 jobs). Reading by key goes through `__missing__`; the calls
    that see every row unpack them all first."""

    def __init__(self) -> None:
        super().__init__()
        self._packed: dict[str, tuple[list[Any], list[GitContext]]] = {}

    def put_packed(self, packed: list[Any], gits: list[GitContext]) -> None:
        job_id = packed[AT["job_id"]]
        super().pop(job_id, None)
        self._packed[job_id] = (packed, gits)

    def clear(self) -> None:
        self._packed.clear()
        super().clear()

    def __missing__(self, job_id: str) -> JobRow:
        if job_id not in self._packed:
            raise KeyError(job_id)
        row = unpack(*self._packed[job_id])
        self[job_id] = row  # and out of `_packed`
        return row

    def __setitem__(self, job_id: str, row: JobRow) -> None:
        self._packed.pop(job_id, None)
        super().__setitem__(job_id, row)

    def __delitem__(self, job_id: str) -> None:
        if self._packed.pop(job_id, None) is None:
            super().__delitem__(job_id)

    def get(self, job_id: str, default: Any = None) -> Any:
        return self[job_id] if job_id in self else default  # noqa: SIM401 (this is get)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._packed or super().__contains__(job_id)

    def __len__(self) -> int:
        return super().__len__() + len(self._packed)

    def __iter__(self) -> Iterator[str]:
        self._unpack_all()
        return super().__iter__()

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self._unpack_all()
        return super().keys()

    def values(self) -> ValuesView[JobRow]:  # type: ignore[override]
        self._unpack_all()
        return super().values()

    def items(self) -> ItemsView[str, JobRow]:  # type: ignore[override]
        self._unpack_all()
        return super().items()

    def _unpack_all(self) -> None:
        for job_id in list(self._packed):
            self.__missing__(job_id)


# A whole picture holds every job, so rows are stored as positional lists (in slot order) and
# rebuilt without validation: the snapshot's code version is this file's, so it holds what this
# code wrote. Going through JobView cost seconds per snapshot at 200,000 events, and field by field
# packing still most of a second: a restore is the cold cost of every past state. Git contexts,
# shared by many jobs, are a table. Rows hold no history (`JobRow.detailed`): it was most of a
# picture (39 MB of JSON at 200,000 events) and most of a restore. The finished-jobs store keeps
# a detailed row's history in a column of its own (`pack_detail`), which pictures leave out.
_ROW = attrgetter(*JobRow.__slots__)
AT = {name: i for i, name in enumerate(JobRow.__slots__)}
_TIMES = tuple(AT[name] for name in ("created_at", "queued_at", "started_at", "finished_at"))
_STATUSES = {status.value: status for status in JobStatus}
FINISHED_VALUES = frozenset(status.value for status in FINISHED)
"""A dict lookup: calling the enum class costs several times more, once per row."""


def pack(row: JobRow, gits: dict[GitContext, int]) -> list[Any]:
    """orjson writes the datetimes and enums; the queue spec as a dict; `gits` numbers the
    picture's git contexts. A detailed row is packed as the board's row it also is (its
    open attempt only, no history): `pack_detail` keeps the rest apart."""
    out = list(_ROW(row))
    out[AT["git"]] = gits.setdefault(row.git, len(gits))
    if row.queue is not None:
        out[AT["queue"]] = row.queue.model_dump(mode="json")
    attempt = current(row.attempt_history)
    out[AT["attempt_history"]] = [] if attempt is None else [attempt.pack()]
    out[AT["history"]] = None
    return out


def pack_detail(row: JobRow) -> bytes:
    """What a detailed row holds beyond `pack`: its status history and every attempt."""
    history = [tuple(change) for change in row.history or ()]
    return orjson.dumps([history, [attempt.pack() for attempt in row.attempt_history]])


def unpack_detail(row: JobRow, packed: bytes) -> JobRow:
    """The row, detailed again with what `pack_detail` kept."""
    history, attempts = orjson.loads(packed)
    row.history = [
        Change(_STATUSES[status], datetime.fromisoformat(at), *rest)
        for status, at, *rest in history
    ]
    row.attempt_history = list(map(Attempt.unpack, attempts))
    return row


def pack_alone(row: JobRow) -> list[Any]:
    """`pack` with the git context inline: a stored row stands on its own."""
    packed = pack(row, {})
    packed[AT["git"]] = row.git.__dict__
    return packed


def unpack_alone(packed: list[Any]) -> JobRow:
    return unpack(packed, [inline_git(packed)])


def inline_git(packed: list[Any]) -> GitContext:
    """The row's inline git context, its place in the row pointing at it in a table of one."""
    git = GitContext.model_construct(None, **packed[AT["git"]])
    packed[AT["git"]] = 0
    return git


def stored(arrival: int, row: JobRow) -> Stored:
    """With the row's detail when it is detailed (`JobBoard`: the jobs it saw created)."""
    git = row.git
    blob = orjson.dumps(pack_alone(row))
    created_us = micros(row.created_at)
    return (
        arrival,
        row.job_id,
        row.last_seq,
        row.status.value,
        row.job_type,
        None if row.queue is None else row.queue.pool,
        git.repo,
        git.ref,
        row.agent_id,
        created_us,
        blob,
        pack_detail(row) if row.detailed else None,
    )


def stored_packed(arrival: int, packed: list[Any]) -> Stored:
    """`stored` straight from a packed row with its git context inline (`pack_alone`): a
    restore stores every finished job of history, and unpacking each to pack it again cost more
    than the rest of the restore."""
    git, queue = packed[AT["git"]], packed[AT["queue"]]
    return (
        arrival,
        packed[AT["job_id"]],
        packed[AT["last_seq"]],
        packed[AT["status"]],
        packed[AT["job_type"]],
        None if queue is None else queue["pool"],
        git["repo"],
        git["ref"],
        packed[AT["agent_id"]],
        micros(datetime.fromisoformat(packed[AT["created_at"]])),
        orjson.dumps(packed),
        None,
    )


def unpack(packed: list[Any], gits: list[GitContext]) -> JobRow:
    """`gits`: the picture's table (a frozen context is shared by its jobs)."""
    for i in _TIMES:
        if packed[i] is not None:
            packed[i] = datetime.fromisoformat(packed[i])
    packed[AT["status"]] = _STATUSES[packed[AT["status"]]]
    packed[AT["git"]] = gits[packed[AT["git"]]]
    if packed[AT["queue"]] is not None:
        packed[AT["queue"]] = QueueSpec.model_validate(packed[AT["queue"]])
    packed[AT["artifact_urls"]] = tuple(packed[AT["artifact_urls"]])
    packed[AT["attempt_history"]] = list(map(Attempt.unpack, packed[AT["attempt_history"]]))
    return JobRow(*packed)
