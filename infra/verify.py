"""Verify EVENTS against its own chains, the writer key and the signed checkpoints.

One ordered consumer with a callback reads the range; per event it checks the stream sequence
is the next one (gaps), the MAC, that the envelope names a known type and version for its
subject's kind, the aggregate's hash chain (`prev`) and its version order, and folds the event
into the Merkle range that each signed checkpoint in the range is compared with.

Events that fail the MAC or do not decode are reported and left out of their aggregate's chain,
as the loaders do. Checking from a later `from_seq` starts at the newest checkpoint before it
(whose frontier gives the Merkle state); chains then start at each aggregate's first event seen.
An `aggregate` filter checks that aggregate alone: no gaps or roots can be judged from a part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

from domain.errors import UnavailableError
from infra.checkpoints import (
    Checkpoint,
    MerkleRange,
    local_public_key,
    parse_public_key,
    stored_checkpoints,
)
from infra.follower import follow
from infra.layout import CONFIG_BUCKET, EVENT_SUBJECTS, EVENTS
from infra.tokens import WRITER_KEY
from infra.verify_walk import Walk

IDLE_S = 2.0
"""A read that delivers nothing for this long has seen all there is (a filter may match none)."""


@dataclass(frozen=True)
class Finding:
    kind: str
    """gap, mac, undecodable, chain, order, checkpoint-signature, checkpoint-root, truncated."""
    seq: int | None
    subject: str | None
    expected: str | None
    found: str | None
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    events: int
    first_seq: int
    last_seq: int
    checkpoints: int
    """Signed checkpoints compared with the log."""
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


async def writer_key(nc: Client) -> bytes:
    """The writer key kept in the config bucket (JETDECK_WRITER_KEY, when set, is the key)."""
    kv = await nc.jetstream().key_value(CONFIG_BUCKET)
    try:
        entry = await kv.get(WRITER_KEY)
    except KeyNotFoundError as exc:
        raise UnavailableError("no writer key in the config bucket: pass it instead") from exc
    assert entry.value is not None
    return entry.value


async def checkpoint_public_key(
    nc: Client, data_dir: Path | None = None
) -> Ed25519PublicKey | None:
    """The key in `data_dir` if this machine signs; else the one the newest checkpoint names,
    which only proves the log consistent with itself (take the key out of band to prove more)."""
    if data_dir is not None and (local := local_public_key(data_dir)) is not None:
        return local
    found = await stored_checkpoints(nc)
    return parse_public_key(found[-1].public_key) if found else None


async def verify_log(
    nc: Client,
    *,
    writer_key: bytes | None,
    public_key: Ed25519PublicKey | None,
    from_seq: int = 1,
    to_seq: int | None = None,
    aggregate: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """`aggregate` is `<kind>.<id>`; `progress` hears the count of events every 5,000."""
    info = await nc.jetstream().stream_info(EVENTS)
    end = info.state.last_seq if to_seq is None else min(to_seq, info.state.last_seq)
    walk = Walk(writer_key, progress, chains_from_genesis=from_seq <= 1)
    checkpoints = [] if aggregate else await stored_checkpoints(nc)
    signed = [c for c in checkpoints if _signature_holds(c, public_key, walk)]
    start = from_seq if aggregate else _start(walk, signed, from_seq)
    walk.expect(start, check_gaps=aggregate is None)
    walk.pending = [c for c in signed if start <= c.last_seq <= end]
    if start <= end:
        await _read(nc, walk, start, end, aggregate)
    walk.finish(end)
    if to_seq is None:
        _truncation(walk, signed, info.state.last_seq)
    return VerifyReport(
        events=walk.events,
        first_seq=walk.first_seq or start,
        last_seq=walk.last_seq,
        checkpoints=walk.compared,
        findings=[Finding(*f) for f in walk.findings],
    )


def _signature_holds(checkpoint: Checkpoint, public: Ed25519PublicKey | None, walk: Walk) -> bool:
    if public is None or checkpoint.signature_holds(public):
        return True
    walk.report(
        "checkpoint-signature",
        checkpoint.last_seq,
        None,
        None,
        None,
        f"the checkpoint at seq {checkpoint.last_seq} is not signed by the given key",
    )
    return False


def _start(walk: Walk, signed: list[Checkpoint], from_seq: int) -> int:
    """Where to read from: `from_seq`, or just after the newest checkpoint below it."""
    if from_seq <= 1:
        walk.merkle = MerkleRange()
        return 1
    below = [c for c in signed if c.last_seq < from_seq]
    if not below:
        return from_seq  # nothing to resume the Merkle range from: roots cannot be checked
    walk.merkle = below[-1].merkle()
    return below[-1].last_seq + 1


def _truncation(walk: Walk, signed: list[Checkpoint], stream_last: int) -> None:
    for checkpoint in signed:
        if checkpoint.last_seq > stream_last:
            walk.report(
                "truncated",
                checkpoint.last_seq,
                None,
                str(checkpoint.last_seq),
                str(stream_last),
                f"a signed checkpoint covers seq {checkpoint.last_seq}, the log ends at "
                f"{stream_last}",
            )


async def _read(nc: Client, walk: Walk, start: int, end: int, aggregate: str | None) -> None:
    done = asyncio.get_running_loop().create_future()

    def on_event(seq: int, subject: str, data: bytes, pending: int) -> None:
        if seq > end or done.done():
            return
        walk.step(seq, subject, data)
        if seq == end or pending == 0:
            done.set_result(None)

    subject = f"ev.{aggregate}.>" if aggregate else EVENT_SUBJECTS
    sub = await follow(nc.jetstream(), start, on_event, subject)
    try:
        seen = -1
        while not done.done() and seen != walk.events:
            seen = walk.events
            await asyncio.wait({done}, timeout=IDLE_S)
    finally:
        await sub.unsubscribe()
