"""Finished jobs out of memory: a SQLite file per process, indexed for the list's filters.

A finished job never changes again (domain.job_status.TRANSITIONS), so once it ends its row is
written here once and leaves the board's memory: the board holds only the jobs still in flight,
and the API's memory no longer grows with history (docs/architecture.md, Read models). The file is
rebuilt from the pictures and the log at a start, so nothing here needs to survive a crash: no
fsync, but for the resume point. A process that closes cleanly keeps, in the same file, the
point it stopped at and its memory's picture (`keep_resume_point`), and the next process of its
name starts from the file rather than from the pictures (`infra.projection_runner`); the point is
taken away as it is read, so a file whose process was killed since is never resumed from.

Each row is stored as the JSON list `projections.job_packing.pack` makes, with its git context
inline, so a picture copies it without unpacking it. A picture reads the rows from a second
connection in another thread (`rows_between`): WAL lets it read the committed state while the
replay goes on writing, and it asks only for rows finished by the picture's sequence, which were
all committed before it started (`flush`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from projections.job_views import JobFilter

FLUSH_EVERY = 1000
"""Rows buffered before an insert: one statement per row cost a third of a replay's time."""
NARROW = 5000
"""A creation range with fewer rows than this is read through its index (`_narrow`)."""
CHUNK_ROWS = 2000
"""Rows a picture reads, and compresses, at a time."""

_TABLE = """
CREATE TABLE IF NOT EXISTS finished (
    arrival INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    job_type TEXT NOT NULL,
    pool TEXT,
    repo TEXT,
    ref TEXT,
    agent_id TEXT,
    created_us INTEGER NOT NULL,
    row BLOB NOT NULL,
    detail BLOB
)
"""
SCHEMA = 2
"""`PRAGMA user_version` of a file this code made: a file kept from another schema is remade."""
_RESUME_TABLE = """
CREATE TABLE IF NOT EXISTS resume (only INTEGER PRIMARY KEY CHECK (only = 1), point BLOB NOT NULL)
"""
_INDEXES = {
    "finished_by_job": "UNIQUE INDEX {} ON finished (job_id)",
    "finished_by_last_seq": "INDEX {} ON finished (last_seq)",
    "finished_by_status": "INDEX {} ON finished (status, arrival)",
    "finished_by_type": "INDEX {} ON finished (job_type, arrival)",
    "finished_by_pool": "INDEX {} ON finished (pool, arrival)",
    "finished_by_repo": "INDEX {} ON finished (repo, arrival)",
    "finished_by_ref": "INDEX {} ON finished (ref, arrival)",
    "finished_by_agent": "INDEX {} ON finished (agent_id, arrival)",
    "finished_by_created": "INDEX {} ON finished (created_us)",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSERT = "INSERT OR REPLACE INTO finished VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

Stored = tuple[int, str, int, str, str, str | None, str, str, str | None, int, bytes, bytes | None]
"""arrival, job_id, last_seq, status, job_type, pool, repo, ref, agent_id, created_us, the
packed row, and its detail when the board held it (`job_packing.pack_detail`)."""


def micros(when: datetime) -> int:
    """A datetime as integer microseconds since the epoch: exact, so filters at a boundary
    agree with the in-memory comparison."""
    delta = when - _EPOCH
    return int(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)


class FinishedJobs:
    def __init__(self, path: Path, on_close: Callable[[], None] = lambda: None) -> None:
        """`path`: a new file of this process's; `on_close` removes it (`infra.scratch`)."""
        self.path = path
        self.on_close = on_close
        self.db = _connect(path)
        if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            self.db.execute("DROP TABLE IF EXISTS finished")
            self.db.execute("DROP TABLE IF EXISTS resume")
            self.db.execute(f"PRAGMA user_version = {SCHEMA}")
        self.db.execute(_TABLE)
        self.db.execute(_RESUME_TABLE)
        self._index()
        self.pending: list[Stored] = []

    def add(self, stored: Stored) -> None:
        self.pending.append(stored)
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Before any read, and before a picture counts on every row it covers being here."""
        if self.pending:
            with self.db:
                self.db.executemany(_INSERT, self.pending)
            self.pending.clear()

    def clear(self) -> None:
        self.pending.clear()
        with self.db:
            self.db.execute("DELETE FROM finished")

    @contextmanager
    def refilled(self) -> Iterator[None]:
        """Emptied, then filled in bulk (a restore, every finished job of history) with the
        indexes dropped and built after: 7 µs a row against 30 µs kept up through the inserts,
        at 300,000 rows. A row's arrival, its primary key, still replaces an earlier copy."""
        self.clear()
        with self.db:
            for name in _INDEXES:
                self.db.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            self.flush()
            self._index()

    def _index(self) -> None:
        with self.db:
            for name, index in _INDEXES.items():
                self.db.execute("CREATE " + index.format(f"IF NOT EXISTS {name}"))

    def count(self) -> int:
        self.flush()
        (count,) = self.db.execute("SELECT count(*) FROM finished").fetchone()
        return int(count)

    def get(self, job_id: str) -> bytes | None:
        self.flush()
        found = self.db.execute("SELECT row FROM finished WHERE job_id = ?", (job_id,)).fetchone()
        return None if found is None else bytes(found[0])

    def detail(self, job_id: str) -> tuple[bytes, bytes] | None:
        """The row and its detail, when the store has the detail."""
        self.flush()
        found = self.db.execute(
            "SELECT row, detail FROM finished WHERE job_id = ? AND detail IS NOT NULL", (job_id,)
        ).fetchone()
        return None if found is None else (bytes(found[0]), bytes(found[1]))

    def page(self, flt: JobFilter, limit: int, before: int | None) -> list[tuple[int, bytes]]:
        """Up to `limit` rows matching `flt`, newest arrival first, older than `before`."""
        self.flush()
        where, params = _where(flt, before)
        # The newest arrivals are chosen first and only their rows read: sorting a narrow
        # range's rows with their blobs cost most of its page.
        rows = self.db.execute(
            "SELECT arrival, row FROM finished WHERE arrival IN ("
            f"SELECT arrival FROM finished {self._plan(flt)} {where} "
            "ORDER BY arrival DESC LIMIT ?) ORDER BY arrival DESC",
            (*params, limit),
        )
        return [(arrival, bytes(row)) for arrival, row in rows]

    def _plan(self, flt: JobFilter) -> str:
        """For a creation range: walked by arrival when it is wide and reaches the newest rows
        (the two orders nearly agree, so the walk meets it at once), else read through the
        creation index and sorted. Both are counted on that index, up to NARROW. Either plan
        alone was slow for the other kind of range: 236 ms for an early second walked by arrival
        at 275,000 jobs, 83 ms at 18,000 for all time sorted through the index; and a dense early
        range, wide but far from the newest rows, took 320 ms to walk at a million jobs."""
        if flt.created_from is None and flt.created_to is None:
            return ""
        low = micros(flt.created_from) if flt.created_from is not None else -(2**62)
        high = micros(flt.created_to) if flt.created_to is not None else 2**62
        wide = self._created_between(low, high) >= NARROW
        recent = flt.created_to is None or self._created_between(high, 2**62) < NARROW
        return "NOT INDEXED" if wide and recent else "INDEXED BY finished_by_created"

    def _created_between(self, low: int, high: int) -> int:
        """Rows created in [low, high), counted up to NARROW on the creation index alone."""
        (count,) = self.db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM finished INDEXED BY finished_by_created "
            "WHERE created_us >= ? AND created_us < ? LIMIT ?)",
            (low, high, NARROW),
        ).fetchone()
        return int(count)

    def rows_between(self, after: int, upto: int) -> Iterator[bytes]:
        """The rows finished in (after, upto], a JSON line `[arrival, row]` each, in chunks:
        a whole picture's are all of history, never all in memory at once. From a connection
        of its own, so a thread can read while the replay writes; in no particular order."""
        db = _connect(self.path)
        try:
            rows = db.execute(
                "SELECT arrival, row FROM finished WHERE last_seq > ? AND last_seq <= ?",
                (after, upto),
            )
            while chunk := rows.fetchmany(CHUNK_ROWS):
                yield b"".join(b"[%d,%s]\n" % (arrival, row) for arrival, row in chunk)
        finally:
            db.close()

    def keep_resume_point(self, point: bytes) -> None:
        """Written to disk with every row before it: a start trusts both."""
        self.flush()
        with self._durably():
            self.db.execute("INSERT OR REPLACE INTO resume VALUES (1, ?)", (point,))

    def take_resume_point(self) -> bytes | None:
        """The point kept at the last clean close, gone from the file once this returns: the
        rows move past it with the first event applied."""
        with self._durably():
            found = self.db.execute("SELECT point FROM resume").fetchone()
            self.db.execute("DELETE FROM resume")
        return None if found is None else bytes(found[0])

    @contextmanager
    def _durably(self) -> Iterator[None]:
        """A transaction synced to disk; in WAL mode the sync covers the frames before it."""
        self.db.execute("PRAGMA synchronous = FULL")
        try:
            with self.db:
                yield
        finally:
            self.db.execute("PRAGMA synchronous = OFF")

    def close(self) -> None:
        self.db.close()
        self.on_close()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -8192")  # KiB: the page cache is this process's memory
    return db


_EQUAL = ("status", "job_type", "pool", "repo", "ref", "agent_id")
"""JobFilter's fields matched by equality, each a column of the same name."""
_RANGE = {"created_from": "created_us >= ?", "created_to": "created_us < ?"}
FILTERED = frozenset(_EQUAL) | frozenset(_RANGE)
"""Every field of JobFilter: a test holds the two together, so a new filter is not ignored."""


def _where(flt: JobFilter, before: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in _EQUAL:
        value = getattr(flt, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value.value if isinstance(value, Enum) else value)
    for name, clause in _RANGE.items():
        when = getattr(flt, name)
        if when is not None:
            clauses.append(clause)
            params.append(micros(when))
    if before is not None:
        clauses.append("arrival < ?")
        params.append(before)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
