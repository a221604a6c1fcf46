"""The stored form of a picture of the read models, and chains of pictures.

A picture is a JSON header line, then one zstd-compressed JSON section per read model, and one
more per model with a store (the finished jobs: `projections.base.Offloaded`): a past state
parses only the models a request reads (the job board is most of a picture). An
incremental model's section may hold only what changed since an earlier picture, its base; a
picture with a base is read as the chain from a whole picture up to it. Each picture of a chain
costs what changed in its interval, not all history, so drawing one every few thousand events
stays linear in the log (docs/architecture.md, Time travel).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard
from nats.js.errors import NotFoundError

from infra.snapshots import SnapshotName, Snapshots
from projections.base import Incremental, Offloaded, ReadModel

COMPRESSION = 1
"""zstd's level 1: against zlib's fastest level, a fifth smaller, 3.5 times faster to compress and
3 times faster to read (the job board's section of a picture at 190,000 events: 247 against 317
kB, 1.8 against 6.4 ms, 1.1 against 3.1 ms to read). Level 3 shrinks it a further sixth for 1.6
times the CPU."""
MAX_DEPTH = 100_000
"""Pictures in a chain after its whole one: in effect none but the first is whole. A whole
picture every few holds every finished job again, and the bucket grew with the square of the
history (10 times the newest chain at 275,000 jobs); a chain holds each finished job once."""
FETCHES = 8
"""Pictures of a chain fetched at once."""
_HEADER_END = b"\n"
STORED = ".stored"
"""The suffix of an offloaded model's store section, `jobs.stored`: JSON lines, not one JSON
document, so neither side holds all of it at once."""
_PIECE = 1 << 20
"""Compressed bytes a store section is decompressed by."""


class BrokenChainError(Exception):
    """A picture's base is gone (pruned by a writer with other settings, or never written)."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Without the cyclic collector: taking or restoring a picture makes millions of objects
    (none of them cyclic garbage), and the collections they set off rescan the whole young heap
    again and again: about 0.3 s of a 0.7 s restore at 150,000 events. Around an await only for
    a replay bounded by a picture (a past state's tail) or in a process the replay owns (a
    rebuild); pauses that overlap leave the collector on once the one that found it on ends.

    On the way out the objects made meanwhile are frozen (moved where collections never look):
    else the first collection after the pause scans them all at once (0.13 s after a past job
    board's restore). They are data, freed by their reference counts as usual; only a cycle
    that became garbage before the freeze is never reclaimed."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def draw(models: Sequence[ReadModel], quarantine: Any, seq: int, base: int, depth: int) -> bytes:
    """The picture at `seq`; with `base` > 0 incremental models hold only what changed after
    it. `quarantine`: the runner's list, JSON-ready; `depth`: pictures since the whole one."""
    blobs: list[bytes] = []
    sections: list[tuple[str, bool, int]] = []
    with collector_paused():
        for model in models:
            if base > 0 and isinstance(model, Incremental):
                since, data = True, model.dump_since(base)
            else:
                since, data = False, model.dump()
            blob = zstandard.compress(orjson.dumps(data), COMPRESSION)
            blobs.append(blob)
            sections.append((model.name, since, len(blob)))
    header = {
        "seq": seq,
        "base": base,
        "depth": depth,
        "quarantine": quarantine,
        "sections": sections,
    }
    return orjson.dumps(header) + _HEADER_END + b"".join(blobs)


def stored_sections(
    models: Sequence[ReadModel], base: int, seq: int
) -> list[tuple[str, bool, bytes]]:
    """The store sections of a picture at `seq` (with `base`, what each store took in since):
    read on their own connections, so in a thread while the replay goes on, and compressed as
    they are read, so all history is never in memory at once."""
    out: list[tuple[str, bool, bytes]] = []
    for model in models:
        if isinstance(model, Offloaded):
            lines = model.stored_section(base, seq)
            if lines is not None:
                packer = zstandard.ZstdCompressor(COMPRESSION).compressobj()
                blob = b"".join(packer.compress(chunk) for chunk in lines) + packer.flush()
                out.append((model.name + STORED, base > 0, blob))
    return out


def with_sections(picture: bytes, extra: list[tuple[str, bool, bytes]]) -> bytes:
    """The picture with more (compressed) sections after its own."""
    if not extra:
        return picture
    end = picture.index(_HEADER_END)
    header = orjson.loads(picture[:end])
    header["sections"] += [(name, since, len(blob)) for name, since, blob in extra]
    blobs = [picture[end + 1 :], *(blob for _, _, blob in extra)]
    return orjson.dumps(header) + _HEADER_END + b"".join(blobs)


@dataclass(frozen=True)
class Section:
    since_base: bool
    blob: memoryview

    def load(self) -> Any:
        """A model's section, compressed whole, so its frame names its size, which
        `zstandard.decompress` needs; a store's section is streamed and read by `lines`."""
        return orjson.loads(zstandard.decompress(self.blob))

    def lines(self) -> Iterator[Any]:
        """A store section's JSON lines, each loaded, decompressed a piece at a time."""
        unpacker, rest = zstandard.ZstdDecompressor().decompressobj(), b""
        for at in range(0, len(self.blob), _PIECE):
            rest += unpacker.decompress(self.blob[at : at + _PIECE])
            *whole, rest = rest.split(b"\n")
            yield from map(orjson.loads, whole)
        rest += unpacker.flush()
        yield from map(orjson.loads, filter(None, rest.split(b"\n")))


@dataclass(frozen=True)
class Picture:
    seq: int
    base: int
    depth: int
    quarantine: Any
    sections: dict[str, Section]

    @classmethod
    def parse(cls, stored: bytes | bytearray) -> Picture:
        end = stored.index(_HEADER_END)
        header = orjson.loads(stored[:end])
        view, at = memoryview(stored), end + 1
        sections: dict[str, Section] = {}
        for name, since_base, length in header["sections"]:
            sections[name] = Section(since_base, view[at : at + length])
            at += length
        return cls(header["seq"], header["base"], header["depth"], header["quarantine"], sections)


@dataclass(frozen=True)
class Chain:
    """Pictures from a whole one to the newest, oldest first."""

    pictures: list[Picture]

    @property
    def newest(self) -> Picture:
        return self.pictures[-1]

    def restore(self, model: ReadModel) -> None:
        """The model as the newest picture shows it: its last whole section, then the later
        ones laid over it."""
        sections = [p.sections[model.name] for p in self.pictures]
        start = max(i for i, s in enumerate(sections) if not s.since_base)
        bulk = model.restoring() if isinstance(model, Offloaded) else nullcontext()
        with collector_paused(), bulk:
            for i, picture in enumerate(self.pictures[start:]):
                section = sections[start + i]
                if i == 0:
                    model.restore(section.load())
                elif isinstance(model, Incremental):
                    model.restore_since(section.load())
                else:
                    raise BrokenChainError(f"{model.name} cannot lay a change over a picture")
                stored = picture.sections.get(model.name + STORED)
                if stored is not None and isinstance(model, Offloaded):
                    model.restore_stored(stored.lines())


async def load_chain(snapshots: Snapshots, seq: int) -> Chain | None:
    """The chain of the newest picture of this code version at or below `seq` whose chain is
    whole; None when there is none."""
    mine = [n for n in await snapshots.names() if n.version == snapshots.version]
    by_seq = {n.seq: n for n in mine}
    for name in reversed([n for n in mine if n.seq <= seq]):
        try:
            return await _chain(snapshots, by_seq, name)
        except (NotFoundError, BrokenChainError):  # pruned since the listing: an older one
            continue
    return None


async def _chain(
    snapshots: Snapshots, by_seq: dict[int, SnapshotName], newest: SnapshotName
) -> Chain:
    """The pictures at or below `newest` are fetched together, a few at a time: a chain is
    every picture since its whole one, and one by one each fetch waited for the last (a
    17-picture chain took 1.2 s). Pruning keeps the chains' pictures and little else."""
    names = [n for n in by_seq.values() if n.seq <= newest.seq]
    gate = asyncio.Semaphore(FETCHES)

    async def fetched(name: SnapshotName) -> Picture | None:
        async with gate:
            try:
                return Picture.parse(await snapshots.read(name))
            except NotFoundError:  # pruned since the listing: needed only if a chain says so
                return None

    found = {p.seq: p for p in await asyncio.gather(*map(fetched, names)) if p is not None}
    if newest.seq not in found:
        raise BrokenChainError(f"the picture at {newest.seq} is gone")
    pictures = [found[newest.seq]]
    while pictures[0].base:
        base = found.get(pictures[0].base)
        if base is None:
            raise BrokenChainError(f"the picture at {pictures[0].seq} lost its base")
        pictures.insert(0, base)
    return Chain(pictures)
