"""Pictures of the read models (infra/pictures) in the SNAPSHOTS object store, one object per
(code version, seq).

Several snapshots per code version let a past state ("as of") start from the nearest picture at
or below it instead of from the first event. Names sort by sequence within a version.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectMetaOptions
from nats.js.errors import DigestMismatchError, NotFoundError
from nats.js.object_store import ObjectStore

from infra.layout import SNAPSHOTS

PREFIX = "read-models-"
CHUNKED = ObjectMeta(options=ObjectMetaOptions(max_chunk_size=512 * 1024))
"""Four times nats-py's default chunk: a save awaits one acknowledgement per chunk, and a replay
running alongside delays each of them. Half the default max_payload of a server (1 MB)."""
_STREAM = f"OBJ_{SNAPSHOTS}"
_SHA = "SHA-256="
"""How nats-py's object store labels the digest of an object's content."""
_NAME = re.compile(rf"{PREFIX}(?P<version>[0-9a-f]+)-(?P<seq>\d+)")


@dataclass(frozen=True, order=True)
class SnapshotName:
    version: str
    seq: int

    def __str__(self) -> str:
        return f"{PREFIX}{self.version}-{self.seq:012d}"

    @classmethod
    def parse(cls, name: str) -> SnapshotName | None:
        found = _NAME.fullmatch(name)
        return None if found is None else cls(found["version"], int(found["seq"]))


class Snapshots:
    def __init__(self, js: JetStreamContext, version: str) -> None:
        self.js = js
        self.version = version
        self._store: ObjectStore | None = None
        self._known: set[SnapshotName] | None = None
        """This version's pictures as this writer listed them once, with what it has put and
        deleted since: a listing is an ordered consumer over the bucket's metadata, and a writer
        took two a picture."""

    def use(self, js: JetStreamContext) -> None:
        """Go on over another connection; what this object knows of the bucket stays."""
        self.js, self._store = js, None

    async def store(self) -> ObjectStore:
        if self._store is None:
            self._store = await self.js.object_store(SNAPSHOTS)
        return self._store

    async def names(self) -> list[SnapshotName]:
        """Every read-model snapshot in the bucket, of any code version, oldest first."""
        store = await self.store()
        try:
            infos = await store.list(ignore_deletes=True)
        except NotFoundError:  # nats-py's answer for an empty bucket
            return []
        found = (SnapshotName.parse(info.name) for info in infos if info.name)
        return sorted(name for name in found if name is not None)

    async def mine(self) -> list[SnapshotName]:
        """This code version's snapshots, oldest first: the bucket listed on the first call, then
        kept up by this object's puts and deletes."""
        if self._known is None:
            self._known = {n for n in await self.names() if n.version == self.version}
        return sorted(self._known)

    async def confirmed(self, seq: int) -> bool:
        """Whether this version's snapshot at `seq` is still stored: one read of its metadata,
        not a listing. When it is gone another process pruned or discarded pictures (a rebuild),
        so what this object knew is forgotten and the next `mine` lists the bucket again."""
        try:
            await (await self.store()).get_info(str(SnapshotName(self.version, seq)))
        except NotFoundError:
            self._known = None
            return False
        return True

    async def read(self, name: SnapshotName) -> bytearray:
        """The object's chunks, one direct get each. nats-py's `get` reads them through an
        ordered push consumer whose flow-control replies wait for a poll every 0.25 s: about
        0.25 s per 2 MB read (measured 0.5 s for 8 MB, 0.77 s for 16 MB). Read into a buffer:
        appending to a bytes object copies the whole picture so far per chunk."""
        info = await (await self.store()).get_info(str(name))
        subject = f"$O.{SNAPSHOTS}.C.{info.nuid}"
        data, digest, at = bytearray(), hashlib.sha256(), 0
        for _ in range(info.chunks or 0):
            chunk = await self.js.get_msg(_STREAM, at + 1, subject, direct=True, next=True)
            at = chunk.seq or at
            data += chunk.data or b""
            digest.update(chunk.data or b"")
        if base64.urlsafe_b64encode(digest.digest()).decode() != (info.digest or "").removeprefix(
            _SHA
        ):
            raise DigestMismatchError
        return data

    async def put(self, seq: int, picture: bytes) -> SnapshotName:
        name = SnapshotName(self.version, seq)
        await (await self.store()).put(str(name), picture, meta=CHUNKED)
        if self._known is not None:
            self._known.add(name)
        return name

    async def prune(self, spacing: int) -> None:
        """Keep this version's newest snapshot in each run of `spacing` sequences.

        So a past state is at most about `spacing` events from a picture, and the bucket grows
        by one object per `spacing` events. Other code versions are left alone: a replica of the
        previous release may still start from them during a rolling upgrade.
        """
        mine = await self.mine()
        newest: dict[int, SnapshotName] = {}
        for name in mine:  # oldest first, so the last one of a run wins
            newest[name.seq // spacing] = name
        keep = set(newest.values())
        for name in mine:
            if name not in keep:
                await self.delete(name)

    async def discard(self) -> int:
        """Delete every read-model snapshot of every code version, all at once (one by one, the
        round trips of 20 pictures delayed a rebuild's start by about 30 ms); returns how many.
        This object then knows the bucket holds none of its version: its first picture does not
        list the bucket again (30 to 40 ms while the replay it holds goes on arriving)."""
        names = await self.names()
        await asyncio.gather(*(self.delete(name) for name in names))
        self._known = set()
        return len(names)

    async def delete(self, name: SnapshotName) -> None:
        """Remove the object's chunks and then its metadata, tombstone included."""
        if self._known is not None:
            self._known.discard(name)
        store = await self.store()
        try:
            await store.delete(str(name))
        except NotFoundError:  # another writer pruned it first
            return
        encoded = base64.urlsafe_b64encode(str(name).encode()).decode()
        await self.js.purge_stream(_STREAM, subject=f"$O.{SNAPSHOTS}.M.{encoded}")
