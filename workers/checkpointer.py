"""The checkpointer: `python -m workers.checkpointer` signs the log's Merkle root into AUDIT.

One ordered consumer reads EVENTS in order and folds every event into the Merkle range
(infra.checkpoints). Every `checkpoint_every` events, or every `checkpoint_interval_s` while
events arrive, it appends a signed checkpoint. A restart resumes from the newest checkpoint this
key signed (its frontier), so nothing before it is read again. Events whose MAC does not hold
are still leaves (the root commits to every stored byte) but are named in the checkpoint's
`quarantined`, so no signature blesses a forged event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.client import Client

from infra.checkpoints import (
    ORIGIN,
    Checkpoint,
    MerkleRange,
    event_digest,
    key_id,
    leaf,
    public_key_text,
    signing_key,
    stored_checkpoints,
)
from infra.codec import authentic, content_of
from infra.connection import connect
from infra.follower import Following, Held, follow
from infra.layout import CHECKPOINT_SUBJECT
from infra.settings import Settings
from infra.tokens import event_writer_key
from workers.process import run_worker, until_signalled

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(
        self,
        nc: Client,
        key: Ed25519PrivateKey,
        writer_key: bytes,
        every: int,
        interval_s: float,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.key = key
        self.public = key.public_key()
        self.writer_key = writer_key
        self.every = every
        self.interval_s = interval_s
        self.merkle = MerkleRange()
        self.position = 0
        self.written = 0
        """The last sequence a checkpoint covers."""
        self.quarantined: list[int] = []
        self._sub: Following | None = None
        self._timer: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        """The timer and the fold both write: one at a time, so `written` only grows."""

    async def start(self) -> None:
        await self._resume()
        self._sub = await follow(self.js, self.position + 1, self._on_event)
        self._timer = asyncio.create_task(self._every_interval())

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _resume(self) -> None:
        """From the newest checkpoint this key signed; one signed by another key proves nothing
        about our state, so without ours the fold starts at the first event."""
        mine = [c for c in await stored_checkpoints(self.nc) if c.signature_holds(self.public)]
        if mine:
            newest = mine[-1]
            self.merkle = newest.merkle()
            self.position = self.written = newest.last_seq
            log.info("checkpointer resumes after seq %d", newest.last_seq)

    def _on_event(self, seq: int, subject: str, data: bytes, _: int) -> Held:
        """Folded at once; a checkpoint due here is written before the next event is folded."""
        if seq <= self.position:
            return None
        self.merkle.add(leaf(seq, event_digest(subject, content_of(data))))
        if not authentic(subject, data, self.writer_key):
            self.quarantined.append(seq)
        self.position = seq
        if self.position - self.written >= self.every:
            return self.write()
        return None

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.write()
            except Exception:  # the next interval tries again; the fold goes on meanwhile
                log.exception("checkpoint at %d failed", self.position)

    async def write(self) -> Checkpoint | None:
        """Sign and append a checkpoint of everything folded so far; None if nothing is new."""
        async with self._writing:
            if self.position <= self.written:
                return None
            checkpoint = self.checkpoint()
            # The message id makes a retry, or a second checkpointer, store it once.
            msg_id = f"checkpoint-{key_id(self.public)}-{checkpoint.last_seq}"
            await self.js.publish(
                CHECKPOINT_SUBJECT, checkpoint.dumps(), headers={"Nats-Msg-Id": msg_id}
            )
            self.written = checkpoint.last_seq
            self.quarantined = [s for s in self.quarantined if s > checkpoint.last_seq]
            return checkpoint

    def checkpoint(self) -> Checkpoint:
        """Built synchronously, so the state cannot move while it is read."""
        return Checkpoint(
            origin=ORIGIN,
            size=self.merkle.size,
            last_seq=self.position,
            root=self.merkle.root().hex(),
            frontier=[h.hex() for h in self.merkle.frontier],
            quarantined=list(self.quarantined),
            key_id=key_id(self.public),
            public_key=public_key_text(self.public),
            at=datetime.now(UTC).isoformat(),
        ).signed(self.key)


async def open_checkpointer(settings: Settings, nc: Client) -> Checkpointer:
    configured = settings.checkpoint_key
    key = signing_key(settings.data_dir, configured.get_secret_value() if configured else None)
    writer_key = await event_writer_key(nc.jetstream(), settings.writer_key)
    return Checkpointer(
        nc, key, writer_key, settings.checkpoint_every, settings.checkpoint_interval_s
    )


async def run(settings: Settings) -> None:
    nc = await connect(settings.server_url, "jetdeck-checkpointer", settings.nats_login)
    checkpointer = await open_checkpointer(settings, nc)
    await checkpointer.start()
    try:
        await until_signalled()
    finally:
        await checkpointer.stop()
        await nc.drain()


def main() -> None:
    run_worker("checkpointer", run)


if __name__ == "__main__":
    main()
