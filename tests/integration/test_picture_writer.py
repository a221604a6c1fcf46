"""Pictures going up on a real server: uploads do not hold the replay, and they go up in order,
so a chain in the bucket is never broken by a failed upload."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client

from infra.code_version import code_version
from infra.picture_writer import PICTURES_GOING_UP, PictureWriter
from infra.pictures import Chain, draw, load_chain
from infra.read_models import ReadModels
from infra.resume import Stores
from infra.snapshots import SnapshotName, Snapshots

KEEP_EVERY = 100
DEADLINE_S = 30.0


class HeldSnapshots(Snapshots):
    """Uploads that wait for `gate`, and fail for the sequences in `failing`."""

    def __init__(self, nc: Client) -> None:
        super().__init__(nc.jetstream(), code_version())
        self.gate = asyncio.Event()
        self.failing: set[int] = set()

    async def put(self, seq: int, picture: bytes) -> SnapshotName:
        await self.gate.wait()
        if seq in self.failing:
            raise ConnectionError(f"the upload of {seq} was lost")
        return await super().put(seq, picture)


def writer_of(snapshots: Snapshots) -> PictureWriter:
    models = ReadModels().all()
    return PictureWriter(snapshots, models, Stores(models), KEEP_EVERY)


async def in_background(writer: PictureWriter, seq: int) -> None:
    """A picture at `seq`, forked as the runner forks one; it holds only its header's place."""
    models = writer.models
    drawing = writer.in_background(seq, lambda base, depth: draw(models, [], seq, base, depth))
    await asyncio.wait_for(drawing, DEADLINE_S)


async def chain_at(snapshots: Snapshots, seq: int) -> Chain:
    chain = await load_chain(snapshots, seq)
    assert chain is not None
    return chain


async def test_uploads_do_not_hold_the_replay_until_a_few_are_waiting(nc: Client) -> None:
    snapshots = HeldSnapshots(nc)
    writer = writer_of(snapshots)
    seqs = [KEEP_EVERY * (n + 1) for n in range(PICTURES_GOING_UP + 1)]
    for seq in seqs[:-1]:
        await in_background(writer, seq)  # returns with every upload still held
    for going_up in list(writer._going_up):
        await asyncio.wait_for(going_up.drawing, DEADLINE_S)
    one_more = asyncio.create_task(in_background(writer, seqs[-1]))
    done, _ = await asyncio.wait([one_more], timeout=0.5)
    assert not done  # every child has drawn: only the uploads hold it now
    assert len(writer._going_up) == PICTURES_GOING_UP  # and no child was forked for it
    snapshots.gate.set()
    await one_more
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    assert [n.seq for n in await snapshots.names()] == seqs
    chain = await chain_at(snapshots, seqs[-1])
    assert [p.seq for p in chain.pictures] == seqs
    assert [p.base for p in chain.pictures] == [0, *seqs[:-1]]


async def test_a_picture_whose_base_failed_to_go_up_is_not_saved(nc: Client) -> None:
    snapshots = HeldSnapshots(nc)
    writer = writer_of(snapshots)
    snapshots.gate.set()
    await in_background(writer, 100)
    await writer.finished()
    snapshots.gate.clear()
    snapshots.failing.add(200)
    await in_background(writer, 200)
    await in_background(writer, 300)  # drawn on 200 while 200 is still going up
    snapshots.gate.set()
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    await in_background(writer, 400)
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    assert [n.seq for n in await snapshots.names()] == [100, 400]
    chain = await chain_at(snapshots, 400)
    assert [(p.seq, p.base) for p in chain.pictures] == [(100, 0), (400, 100)]


@pytest.mark.parametrize(("failing", "saved"), [(100, []), (200, [100])])
async def test_a_lost_upload_costs_the_pictures_drawn_on_it_and_breaks_no_chain(
    nc: Client, failing: int, saved: list[int]
) -> None:
    snapshots = HeldSnapshots(nc)
    writer = writer_of(snapshots)
    snapshots.failing.add(failing)
    for seq in range(100, 500, 100):  # each drawn on the one before, all still going up
        await in_background(writer, seq)
    snapshots.gate.set()
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    assert [n.seq for n in await snapshots.names()] == saved
    await in_background(writer, 500)
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    chain = await chain_at(snapshots, 500)
    assert [p.seq for p in chain.pictures] == [*saved, 500]


async def test_after_a_discard_the_first_picture_does_not_list_the_bucket(
    nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = Snapshots(nc.jetstream(), code_version())
    await earlier.put(100, b"an older picture")
    snapshots = Snapshots(nc.jetstream(), code_version())
    assert await snapshots.discard() == 1

    async def listed() -> list[SnapshotName]:
        raise AssertionError("the bucket was listed again")

    monkeypatch.setattr(snapshots, "names", listed)
    writer = writer_of(snapshots)
    await in_background(writer, 200)
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    assert await Snapshots(nc.jetstream(), code_version()).names() == [
        SnapshotName(code_version(), 200)
    ]
    assert [p.seq for p in (await chain_at(earlier, 200)).pictures] == [200]


async def test_a_picture_drawn_by_a_child_on_a_discarded_base_is_whole(
    nc: Client,
) -> None:
    snapshots = Snapshots(nc.jetstream(), code_version())
    writer = writer_of(snapshots)
    await in_background(writer, 100)
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    await Snapshots(nc.jetstream(), code_version()).discard()  # another process, a rebuild
    await in_background(writer, 200)  # its own account of the bucket still names 100
    await asyncio.wait_for(writer.finished(), DEADLINE_S)
    chain = await chain_at(snapshots, 200)
    assert [(p.seq, p.base, p.depth) for p in chain.pictures] == [(200, 0, 0)]
    assert not chain.newest.sections["jobs"].since_base
