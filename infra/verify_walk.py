"""The per-event checks of `infra.verify`, kept apart from its I/O.

`Walk.step` runs once per event, so it works on bytes and dicts (no pydantic, no RecordedEvent):
the verifier must keep at least half the speed of a bare callback replay.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from domain.catalog import EVENT_TYPES
from domain.recorded import GENESIS
from infra.checkpoints import Checkpoint, MerkleRange, leaf
from infra.codec import SEAL_LENGTH, sealed

PROGRESS_EVERY = 5000


class Head(NamedTuple):
    """An aggregate's last good event: its hash and version."""

    hash: str
    version: int


class Walk:
    def __init__(
        self,
        writer_key: bytes | None,
        progress: Callable[[int], None] | None,
        chains_from_genesis: bool,
    ) -> None:
        self.writer_key = writer_key
        self.progress = progress
        self.chains_from_genesis = chains_from_genesis
        self.merkle: MerkleRange | None = None
        """None when roots cannot be checked (a part of the log with no checkpoint before it)."""
        self.pending: list[Checkpoint] = []
        """Checkpoints still to compare, by last sequence."""
        self.heads: dict[str, Head] = {}
        self.findings: list[tuple[str, int | None, str | None, str | None, str | None, str]] = []
        self.events = 0
        self.compared = 0
        self.first_seq = 0
        self.last_seq = 0
        self.next_seq = 1
        self.check_gaps = True

    def expect(self, start: int, *, check_gaps: bool) -> None:
        self.next_seq = start
        self.check_gaps = check_gaps

    def report(
        self,
        kind: str,
        seq: int | None,
        subject: str | None,
        expected: str | None,
        found: str | None,
        detail: str,
    ) -> None:
        self.findings.append((kind, seq, subject, expected, found, detail))

    def step(self, seq: int, subject: str, data: bytes) -> None:
        if seq != self.next_seq and self.check_gaps:
            self.report(
                "gap", seq, subject, str(self.next_seq), str(seq),
                f"sequences {self.next_seq}..{seq - 1} are missing",
            )  # fmt: skip
        self.next_seq = seq + 1
        self.first_seq = self.first_seq or seq
        self.last_seq = seq
        self.events += 1
        if self.progress is not None and self.events % PROGRESS_EVERY == 0:
            self.progress(self.events)
        is_sealed = sealed(data)
        message = subject.encode() + b"\n" + (data[:-SEAL_LENGTH] + b"}" if is_sealed else data)
        digest = hashlib.sha256(message).digest()
        if self.merkle is not None:
            while self.pending and self.pending[0].last_seq < seq:
                self.compare(self.pending.pop(0))
            self.merkle.add(leaf(seq, digest))
        if self.writer_key is not None and not (
            is_sealed
            and hmac.compare_digest(
                hmac.digest(self.writer_key, message, "sha256").hex().encode(), data[-66:-2]
            )
        ):
            self.report("mac", seq, subject, None, None, "the MAC does not hold")
            return
        self.link(seq, subject, data, digest.hex())

    def link(self, seq: int, subject: str, data: bytes, digest: str) -> None:
        """Type, version, chain and order of one authentic event."""
        try:
            envelope: dict[str, Any] = orjson.loads(data)
            name, v, prev = envelope["type"], envelope["v"], envelope["prev"]
            version = envelope["data"]["originator_version"]
            _, kind, aggregate_id, _ = subject.split(".", 3)
            cls = EVENT_TYPES[name]
            if not name.startswith(kind + ".") or not 1 <= v <= cls.class_version:
                raise ValueError(f"{name} v{v} on a {kind} subject")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self.report("undecodable", seq, subject, None, None, f"not a JetDeck event: {exc!r}")
            return
        key = f"{kind}.{aggregate_id}"
        head = self.heads.get(key)
        if head is None and self.chains_from_genesis:
            head = Head(GENESIS, 0)
        if head is not None:
            if prev != head.hash:
                self.report("chain", seq, subject, head.hash, prev, "prev is not the last hash")
            if version != head.version + 1:
                self.report(
                    "order", seq, subject, str(head.version + 1), str(version),
                    "the aggregate's versions are not consecutive",
                )  # fmt: skip
        self.heads[key] = Head(digest, version)

    def compare(self, checkpoint: Checkpoint) -> None:
        """The Merkle range now holds every leaf up to the checkpoint's last sequence."""
        assert self.merkle is not None
        self.compared += 1
        root = self.merkle.root().hex()
        if self.merkle.size != checkpoint.size or root != checkpoint.root:
            self.report(
                "checkpoint-root",
                checkpoint.last_seq,
                None,
                f"{checkpoint.size}:{checkpoint.root}",
                f"{self.merkle.size}:{root}",
                f"the log up to seq {checkpoint.last_seq} is not what was signed",
            )

    def finish(self, end: int) -> None:
        """Compare the checkpoints the read reached the end of."""
        if self.merkle is None:
            return
        while self.pending and self.pending[0].last_seq <= max(end, self.last_seq):
            self.compare(self.pending.pop(0))
