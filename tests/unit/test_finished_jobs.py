"""The job board with its finished jobs in a SQLite store answers exactly as one that keeps
every job in memory: every filter, every page and cursor, every job; and through pictures."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import orjson
import pytest

from domain.job import Job
from domain.job_status import FINISHED, JobStatus
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.pictures import Chain, Picture, draw, stored_sections, with_sections
from projections import finished_jobs, jobs
from projections.finished_jobs import FILTERED, FinishedJobs
from projections.job_packing import AT
from projections.job_views import JobFilter
from projections.jobs import JobBoard
from tests.conftest import Recorder
from tests.unit.read_model_log import at

S = JobStatus
REPOS = ["org/a", "org/b", "org/c"]
REFS = ["main", "dev"]
AGENTS = ["agent-1", "agent-2", "agent-3"]


def history(jobs: int, seed: int = 3) -> list[RecordedEvent]:
    """`jobs` jobs, interleaved, ending in every status a job can stand in."""
    rng = random.Random(seed)
    rec = Recorder()
    active: list[tuple[Job, list[Callable[[Job], None]]]] = []
    made, clock = 0, 0.0
    while made < jobs or active:
        clock += 1
        if made < jobs and (len(active) < 20 or rng.random() < 0.3):
            job, steps = new_job(rng, made)
            made += 1
            rec.record(job, at(clock))
            active.append((job, steps))
            continue
        i = rng.randrange(len(active))
        job, steps = active[i]
        if steps:
            steps.pop(0)(job)
            rec.record(job, at(clock))
        else:
            active.pop(i)
    return rec.log


def new_job(rng: random.Random, n: int) -> tuple[Job, list[Callable[[Job], None]]]:
    git = GitContext(repo=rng.choice(REPOS), ref=rng.choice(REFS), commit_sha=f"{n:07x}")
    kind, agent = rng.choice(["build", "test"]), rng.choice(AGENTS)
    if n % 7 == 0:  # reported to the dashboard: never queued, in no pool
        job = Job.create(UUID(int=n + 1), kind, git, {"n": str(n)})
        return job, [lambda j: j.start(agent), lambda j: j.complete(S.SUCCESS, 0)]
    spec = QueueSpec(max_attempts=1, pool=rng.choice(["default", "linux"]))
    job = Job.create(UUID(int=n + 1), kind, git, {"n": str(n)}, spec)
    claim: Callable[[Job], None] = lambda j: j.claim(agent, f"ack-{n}")  # noqa: E731
    start: Callable[[Job], None] = lambda j: j.start(agent)  # noqa: E731
    endings: list[list[Callable[[Job], None]]] = [
        [],  # stays queued
        [claim],
        [claim, start],  # running
        [claim, start, lambda j: j.complete(S.SUCCESS, 0)],
        [claim, start, lambda j: j.complete(S.FAILED, 1)],
        [claim, start, lambda j: j.lose_attempt("lease expired", at(0))],  # dead-lettered
        [lambda j: j.cancel("not needed")],
    ]
    weights = [1, 1, 1, 6, 2, 1, 1]
    return job, list(rng.choices(endings, weights)[0])


def fed(board: JobBoard, log: list[RecordedEvent]) -> JobBoard:
    for recorded in log:
        board.apply(recorded)
    return board


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FinishedJobs]:
    finished = FinishedJobs(tmp_path / "finished.sqlite3")
    yield finished
    finished.close()


FILTERS = [
    JobFilter(),
    *(JobFilter(status=s) for s in JobStatus),
    JobFilter(repo="org/b"),
    JobFilter(job_type="test"),
    JobFilter(pool="linux", status=S.SUCCESS),
    JobFilter(pool="default"),
    JobFilter(ref="dev", status=S.SUCCESS),
    JobFilter(agent_id="agent-2"),
    JobFilter(repo="org/a", agent_id="agent-1", status=S.FAILED),
    JobFilter(created_from=at(40), created_to=at(160)),
    JobFilter(created_from=at(40)),
    JobFilter(created_to=at(160)),
    JobFilter(repo="nobody"),
]


def every_page(board: JobBoard, flt: JobFilter, limit: int) -> list[tuple[list[str], int | None]]:
    pages, cursor = [], None
    while True:
        items, cursor = board.page(flt, limit, cursor)
        pages.append(([item.model_dump_json() for item in items], cursor))
        if cursor is None:
            return pages


def assert_same_answers(board: JobBoard, memory: JobBoard, log: list[RecordedEvent]) -> None:
    for flt in FILTERS:
        for limit in (1, 7, 500):
            assert every_page(board, flt, limit) == every_page(memory, flt, limit), flt
    for job_id in {r.aggregate_id for r in log} | {"no-such-job"}:
        assert board.get(job_id) == memory.get(job_id)
    assert board.list_running() == memory.list_running()
    assert board.count() == memory.count()


@pytest.mark.parametrize("walk_past", [0, 10**6], ids=["in-flight-picked", "in-flight-walked"])
@pytest.mark.parametrize("narrow", [1, 10**6], ids=["ranges-walked", "ranges-indexed"])
def test_a_board_with_a_store_answers_as_one_in_memory(
    store: FinishedJobs, monkeypatch: pytest.MonkeyPatch, narrow: int, walk_past: int
) -> None:
    """Each way of reading a creation range, in the store (`narrow`) and among the jobs still in
    memory (`walk_past`), answers as a board without a store."""
    monkeypatch.setattr(finished_jobs, "NARROW", narrow)
    monkeypatch.setattr(jobs, "WALK_PAST", walk_past)
    log = history(400)
    memory = fed(JobBoard(), log)
    board = fed(JobBoard(finished=store), log)
    assert_same_answers(board, memory, log)
    statuses = {row.status for row in memory.jobs.values()}
    assert statuses & FINISHED, "the history has finished jobs"
    assert statuses - FINISHED, "and jobs in flight"


def test_a_wide_range_is_walked_only_when_it_reaches_the_newest_rows(
    store: FinishedJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walking by arrival meets a range at once only if few rows are newer than it: a dense
    range early in history is read through the creation index instead, as a narrow one is."""
    monkeypatch.setattr(finished_jobs, "NARROW", 10)
    fed(JobBoard(finished=store), history(400))
    store.flush()
    walked, indexed = "NOT INDEXED", "INDEXED BY finished_by_created"
    assert store._plan(JobFilter(created_from=at(40))) == walked
    assert store._plan(JobFilter(created_from=at(40), created_to=at(10**4))) == walked
    assert store._plan(JobFilter(created_to=at(160))) == indexed
    assert store._plan(JobFilter(created_from=at(0), created_to=at(160))) == indexed
    assert store._plan(JobFilter(created_from=at(40), created_to=at(41))) == indexed


def test_only_jobs_in_flight_stay_in_memory(store: FinishedJobs) -> None:
    log = history(3000)
    board = fed(JobBoard(finished=store), log)
    in_flight = {
        job_id for job_id, row in fed(JobBoard(), log).jobs.items() if row.status not in FINISHED
    }
    assert set(board.jobs) == in_flight == set(board.arrived)
    assert store.count() == 3000 - len(in_flight)
    assert len(board.arrivals.rows) < len(in_flight) + 1100, "stored rows leave the index"


def picture_of(board: JobBoard, seq: int, base: int) -> Picture:
    board.flush_store()
    drawn = draw([board], [], seq, base, depth=1 if base else 0)
    return Picture.parse(with_sections(drawn, stored_sections([board], base, seq)))


@pytest.mark.parametrize("restored_into", ["store", "memory", "packed"])
def test_a_chain_of_pictures_from_a_store_gives_the_same_board(
    store: FinishedJobs, tmp_path: Path, restored_into: str
) -> None:
    log = history(600)
    half = len(log) // 2
    board = fed(JobBoard(finished=store), log[:half])
    whole = picture_of(board, half, base=0)
    fed(board, log[half:])
    laid = picture_of(board, len(log), base=half)
    assert laid.sections["jobs.stored"].since_base
    makers: dict[str, Callable[[], JobBoard]] = {
        "store": lambda: JobBoard(finished=FinishedJobs(tmp_path / "restored.sqlite3")),
        "memory": JobBoard,
        "packed": lambda: JobBoard(unpack_on_read=True),
    }
    target = makers[restored_into]()
    Chain([whole, laid]).restore(target)
    assert_same_answers(target, fed(JobBoard(), log), log)


def test_a_store_takes_the_finished_jobs_of_a_chain_drawn_without_one(
    store: FinishedJobs,
) -> None:
    log = history(300)
    half = len(log) // 2
    memory = fed(JobBoard(), log[:half])
    whole = picture_of(memory, half, base=0)
    fed(memory, log[half:])
    board = JobBoard(finished=store)
    Chain([whole, picture_of(memory, len(log), base=half)]).restore(board)
    assert store.count() == sum(row.status in FINISHED for row in memory.jobs.values())
    assert set(board.jobs) == {i for i, row in memory.jobs.items() if row.status not in FINISHED}
    assert_same_answers(board, memory, log)


def test_a_created_range_filter_agrees_at_its_microsecond_boundaries(store: FinishedJobs) -> None:
    log = history(100)
    board, memory = fed(JobBoard(finished=store), log), fed(JobBoard(), log)
    edge = next(r for r in log if r.aggregate_id == log[-1].aggregate_id).at
    for delta in (timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)):
        flt = JobFilter(created_from=edge + delta, created_to=edge + timedelta(hours=1))
        assert every_page(board, flt, 5) == every_page(memory, flt, 5)


def test_the_store_filters_on_every_field_of_the_list_filter() -> None:
    assert set(JobFilter.model_fields) == FILTERED


def test_a_picture_reads_the_rows_finished_by_its_point_while_more_are_written(
    store: FinishedJobs,
) -> None:
    log = history(300)
    cut = len(log) // 2
    board = fed(JobBoard(finished=store), log[:cut])
    board.flush_store()
    lines = board.stored_section(0, cut)
    assert lines is not None
    first = next(lines)  # the reading connection is open, as a picture's thread holds it
    fed(board, log[cut:])
    board.flush_store()
    read = [orjson.loads(line) for chunk in [first, *lines] for line in chunk.splitlines()]
    finished_by_cut = {r.aggregate_id for r in log[:cut] if isinstance(r.event, Job.Completed)}
    assert {packed[AT["job_id"]] for _, packed in read} == finished_by_cut
    assert len(read) == len(finished_by_cut)


def indexes(store: FinishedJobs) -> set[str]:
    rows = store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_autoindex")}


def test_a_restore_refills_the_store_in_bulk_and_indexes_it_after(store: FinishedJobs) -> None:
    log = history(300)
    memory = fed(JobBoard(), log)
    whole = picture_of(memory, len(log), base=0)
    board = JobBoard(finished=store)
    seen_inside: list[set[str]] = []
    with store.refilled():
        seen_inside.append(indexes(store))
    for _ in range(2):  # a second restore replaces the first's rows
        Chain([whole]).restore(board)
    assert seen_inside == [set()], "no index is kept up through the inserts"
    assert indexes(store) == set(finished_jobs._INDEXES)
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT arrival FROM finished WHERE status = 'failed'"
    ).fetchall()
    assert "finished_by_status" in str(plan)
    assert_same_answers(board, memory, log)


def test_a_failed_refill_leaves_the_store_indexed(store: FinishedJobs) -> None:
    with pytest.raises(RuntimeError), store.refilled():
        raise RuntimeError("a broken picture")
    assert indexes(store) == set(finished_jobs._INDEXES)


def test_a_file_of_another_schema_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE finished (arrival INTEGER PRIMARY KEY, row BLOB)")
    old.execute("INSERT INTO finished VALUES (1, x'00')")
    old.commit()
    old.close()
    store = FinishedJobs(path)
    try:
        assert store.count() == 0
        board = fed(JobBoard(finished=store), history(30))
        assert store.count() > 0
        assert board.count() == fed(JobBoard(), history(30)).count()
    finally:
        store.close()
