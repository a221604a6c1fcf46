"""Past states and rebuilds on a real server, checked against a fresh fold of the log cut there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.job_status import JobStatus
from infra.embedded_server import EmbeddedServer
from infra.picture_writer import Draw, PictureWriter
from infra.pictures import load_chain
from infra.projection_runner import ProjectionRunner
from infra.read_models import ReadModels
from infra.services import Services, open_services
from infra.settings import Settings
from infra.snapshots import SnapshotName, Snapshots
from infra.time_travel import NEVER, read_models_at, rebuild, seq_at
from tests.integration.helpers import complete_job, create_job, folded, start_job, state_of

EVENTS_PER_JOB = 3


@pytest.fixture
async def services(fresh_server: EmbeddedServer) -> AsyncIterator[Services]:
    # Snapshots only when a test takes one, so where they fall does not depend on timing.
    settings = Settings(nats_url=fresh_server.url, snapshot_every=NEVER, snapshot_keep_every=100)
    opened = await open_services(settings, "time-travel-test", snapshots=True)
    yield opened
    await opened.close()


async def write_jobs(services: Services, jobs: int, snapshots: int = 0) -> None:
    """`jobs` lifecycles, in `snapshots + 1` rounds with a snapshot after each but the last."""
    for _ in range(snapshots):
        await write_jobs(services, jobs // (snapshots + 1))
        await services.runner.save_snapshot()
    jobs -= snapshots * (jobs // (snapshots + 1))

    async def lifecycle(n: int) -> None:
        job_id = (await create_job(services.commands)).aggregate.id
        await start_job(services.commands, job_id)
        await complete_job(services.commands, job_id, [JobStatus.SUCCESS, JobStatus.FAILED][n % 2])

    await asyncio.gather(*(lifecycle(n) for n in range(jobs)))
    await services.runner.catch_up(10)


async def cut_at(services: Services, seq: int) -> dict[str, Any]:
    return dumps(await folded(services, seq))


def dumps(views: ReadModels) -> dict[str, Any]:
    return state_of(views.all())


async def snapshot_seqs(services: Services) -> list[int]:
    names = await services.runner.snapshots.names()
    return [n.seq for n in names if n.version == services.runner.version]


async def test_a_past_state_equals_the_log_cut_there(services: Services) -> None:
    await write_jobs(services, jobs=100, snapshots=3)
    kept = await snapshot_seqs(services)
    assert len(kept) >= 2, kept
    last = services.runner.position
    points = {0, 1, 42, kept[0], kept[0] + 7, kept[-1], last - 1, last}
    for seq in sorted(points):
        reported: list[int] = []
        views = await read_models_at(services.nc, seq, reported.append)
        assert dumps(views) == await cut_at(services, seq), seq
        assert reported[-1:] in ([], [seq])


async def test_a_past_state_starts_from_the_snapshot_below_it(services: Services) -> None:
    await write_jobs(services, jobs=20)
    await services.runner.snapshots.discard()
    # A deliberately empty picture at 30: a state above it that shows no job from 1..30 came
    # from this snapshot plus the tail, not from a full replay.
    blank = ProjectionRunner(services.nc, ReadModels().all(), NEVER, services.runner.writer_key)
    blank.position = 30
    await services.runner.snapshots.put(30, blank.picture())
    tail = [m for m in await services.store.load("ev.>") if 30 < m.seq <= 45]
    created = {m.subject.split(".")[2] for m in tail if m.subject.endswith(".created")}
    assert set((await read_models_at(services.nc, 45)).jobs.jobs) == created
    assert dumps(await read_models_at(services.nc, 29)) == await cut_at(services, 29)


async def test_pruning_keeps_one_snapshot_per_spacing(services: Services) -> None:
    await write_jobs(services, jobs=120, snapshots=8)
    kept = await snapshot_seqs(services)
    assert len({seq // 100 for seq in kept}) == len(kept), kept


async def test_a_writer_lists_the_bucket_once_and_then_keeps_its_own_account(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = 0
    listed = Snapshots.names

    async def counted(snapshots: Snapshots) -> list[SnapshotName]:
        nonlocal listings
        listings += 1
        return await listed(snapshots)

    monkeypatch.setattr(Snapshots, "names", counted)
    await write_jobs(services, jobs=120, snapshots=8)
    assert listings == 1
    kept = await snapshot_seqs(services)
    assert await services.runner.snapshots.mine() == [
        SnapshotName(services.runner.version, seq) for seq in kept
    ]
    assert len({seq // 100 for seq in kept}) == len(kept), kept
    chain = await load_chain(services.runner.snapshots, services.runner.position)
    assert chain is not None
    assert len(chain.pictures) > 2  # each picture built on the one before


async def test_a_crash_between_saving_and_pruning_is_mended_by_the_next_save(
    services: Services, fresh_server: EmbeddedServer
) -> None:
    await write_jobs(services, jobs=10)
    await services.runner.save_snapshot()
    older = services.runner.position
    await write_jobs(services, jobs=10)
    # The writer dies after putting its next picture in the same run, before pruning.
    await services.runner.snapshots.put(services.runner.position, services.runner.picture())
    assert await snapshot_seqs(services) == [older, services.runner.position]

    settings = Settings(nats_url=fresh_server.url, snapshot_every=NEVER, snapshot_keep_every=1000)
    restarted = await open_services(settings, "time-travel-restart", snapshots=True)
    try:
        assert restarted.runner.position == services.runner.position  # from the newest picture
        assert dumps(restarted.views) == dumps(services.views)
        await write_jobs(restarted, jobs=10)
        await restarted.runner.save_snapshot()
        kept = await snapshot_seqs(restarted)
    finally:
        await restarted.close()
    assert kept == [restarted.runner.position]  # both older pictures in its run pruned


async def test_seq_at_resolves_a_time_between_two_writes(services: Services) -> None:
    assert await seq_at(services.nc, datetime.now(UTC)) == 0
    first = await create_job(services.commands)
    between = datetime.now(UTC)
    await asyncio.sleep(0)  # the stream's clock moves on; no fixed wait needed
    second = await create_job(services.commands)
    assert await seq_at(services.nc, between) == first.seq
    assert await seq_at(services.nc, between - timedelta(days=1)) == 0
    assert await seq_at(services.nc, datetime.now(UTC) + timedelta(days=1)) == second.seq
    with pytest.raises(ValueError, match="time zone"):
        await seq_at(services.nc, datetime.now())


async def test_rebuild_discards_snapshots_and_gives_the_same_answers(services: Services) -> None:
    await write_jobs(services, jobs=60, snapshots=2)
    before = {seq: dumps(await read_models_at(services.nc, seq)) for seq in (55, 130, 180)}
    assert await snapshot_seqs(services)
    reported: list[int] = []
    covered = await rebuild(services.nc, reported.append)
    assert covered == services.runner.position == reported[-1]
    names = await services.runner.snapshots.names()
    assert names == [SnapshotName(services.runner.version, covered)]
    for seq, state in before.items():
        assert dumps(await read_models_at(services.nc, seq)) == state
    assert dumps(await read_models_at(services.nc, covered)) == dumps(services.views)


async def test_snapshots_drawn_along_a_rebuild_hold_the_state_at_their_sequence(
    services: Services, fresh_server: EmbeddedServer
) -> None:
    await write_jobs(services, jobs=150)
    dense = Settings(nats_url=fresh_server.url, snapshot_every=100, snapshot_keep_every=100)
    covered = await rebuild(services.nc, settings=dense)
    kept = await snapshot_seqs(services)
    assert len(kept) >= 4, kept  # drawn by forked children along the way, and the last one
    assert kept[-1] == covered
    for seq in kept:
        chain = await load_chain(services.runner.snapshots, seq)
        assert chain is not None
        assert chain.newest.seq == seq
        restored = ReadModels()
        for model in restored.all():
            chain.restore(model)
        assert dumps(restored) == await cut_at(services, seq), seq


async def test_a_rebuild_ends_on_a_picture_drawn_once_in_its_own_process(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last event's picture: no child is forked for it, since the replay has nothing left
    to do meanwhile, and it is not drawn again once the follow stopped."""
    await write_jobs(services, jobs=30)
    drawn: list[tuple[str, int]] = []
    here, in_background = PictureWriter.here, PictureWriter.in_background

    async def counted_here(writer: PictureWriter, seq: int, draw: Draw) -> None:
        drawn.append(("here", seq))
        await here(writer, seq, draw)

    async def counted_in_background(writer: PictureWriter, seq: int, draw: Draw) -> None:
        drawn.append(("forked", seq))
        await in_background(writer, seq, draw)

    monkeypatch.setattr(PictureWriter, "here", counted_here)
    monkeypatch.setattr(PictureWriter, "in_background", counted_in_background)
    covered = await rebuild(services.nc)
    assert drawn == [("here", covered)]
    assert await snapshot_seqs(services) == [covered]
    chain = await load_chain(services.runner.snapshots, covered)
    assert chain is not None
    restored = ReadModels()
    for model in restored.all():
        chain.restore(model)
    assert dumps(restored) == await cut_at(services, covered)


async def test_a_sequence_beyond_the_log_is_refused(services: Services) -> None:
    with pytest.raises(ValueError, match="ends at 0"):
        await read_models_at(services.nc, 1)


async def test_later_pictures_hold_only_what_changed_since_their_base(services: Services) -> None:
    await write_jobs(services, jobs=90, snapshots=2)
    chain = await load_chain(services.runner.snapshots, services.runner.position)
    assert chain is not None
    assert [p.base for p in chain.pictures] == [0, *(p.seq for p in chain.pictures[:-1])]
    whole, *laid = chain.pictures
    assert laid, "the second picture has the first as its base"
    for picture in laid:
        jobs, finished = picture.sections["jobs"], picture.sections["jobs.stored"]
        assert jobs.since_base
        assert finished.since_base
        changed = {row[0] for row in jobs.load()["rows"]}
        changed |= {row[0] for _, row in finished.lines()}
        assert 0 < len(changed) < services.views.jobs.count()
        assert not picture.sections["queue"].since_base  # not incremental: whole each time
    assert not whole.sections["jobs"].since_base
    assert not whole.sections["jobs.stored"].since_base


async def test_a_chain_that_lost_its_base_gives_way_to_an_older_whole_picture(
    services: Services,
) -> None:
    await write_jobs(services, jobs=90, snapshots=2)
    chain = await load_chain(services.runner.snapshots, services.runner.position)
    assert chain is not None
    assert len(chain.pictures) == 2
    names = await services.runner.snapshots.names()
    await services.runner.snapshots.delete(names[0])  # the whole picture the others build on
    last = services.runner.position
    assert await load_chain(services.runner.snapshots, last) is None
    assert dumps(await read_models_at(services.nc, last)) == await cut_at(services, last)


async def test_a_past_state_restores_only_the_models_read(services: Services) -> None:
    await write_jobs(services, jobs=30, snapshots=1)
    views = await read_models_at(services.nc, services.runner.position - 2)
    assert "jobs" not in vars(views)
    assert "stats" not in vars(views)
    assert views.stats.summary(datetime.now(UTC), {}, 0).jobs_total == 30
    assert "stats" in vars(views)
    assert "jobs" not in vars(views)
    assert len(views.jobs.jobs) == 30


async def test_a_writer_whose_base_was_discarded_draws_a_whole_picture(services: Services) -> None:
    await write_jobs(services, jobs=40, snapshots=1)
    # Another process's, as `jetdeck rebuild` discards under a running API: the writer's own
    # account of the bucket still names the base.
    await Snapshots(services.runner.js, services.runner.version).discard()
    await write_jobs(services, jobs=40)
    await services.runner.save_snapshot()
    last = services.runner.position
    chain = await load_chain(services.runner.snapshots, last)
    assert chain is not None
    assert [p.base for p in chain.pictures] == [0]
    assert dumps(await read_models_at(services.nc, last)) == await cut_at(services, last)
    assert repr(await read_models_at(services.nc, last - 1)) == "PastModels(restored=[])"
