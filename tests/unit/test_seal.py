"""Sealing events with the writer key, and the Merkle range of the signed checkpoints."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.errors import ForgedEventError
from domain.recorded import chain_hash
from infra.checkpoints import Checkpoint, MerkleRange, parse_public_key, public_key_text
from infra.codec import SEAL_LENGTH, authentic, content_of, decode, seal
from infra.quarantine import Quarantine
from tests.unit.test_codec import job_lifecycle

KEY, OTHER = b"w" * 32, b"o" * 32


def test_seal_appends_a_fixed_length_mac_that_the_hash_leaves_out() -> None:
    stored = job_lifecycle().stored[0]
    payload = seal(stored.subject, stored.payload, KEY)
    assert len(payload) == len(stored.payload) - 1 + SEAL_LENGTH
    assert payload.endswith(b'"}')
    assert b',"mac":"' in payload
    assert content_of(payload) == stored.payload
    assert authentic(stored.subject, payload, KEY)
    recorded = decode(1, stored.subject, payload, KEY)
    assert recorded.hash == chain_hash(stored.subject, stored.payload)
    assert (
        recorded.hash == decode(1, stored.subject, seal(stored.subject, stored.payload, OTHER)).hash
    )


def test_a_wrong_key_subject_or_byte_fails_authentication() -> None:
    stored = job_lifecycle().stored[0]
    payload = seal(stored.subject, stored.payload, KEY)
    assert not authentic(stored.subject, payload, OTHER)
    assert not authentic(stored.subject + "x", payload, KEY)
    assert not authentic(stored.subject, payload.replace(b"test", b"tost"), KEY)
    assert not authentic(stored.subject, stored.payload, KEY)  # not sealed at all
    with pytest.raises(ForgedEventError):
        decode(1, stored.subject, payload, OTHER)


def textbook_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, split at the largest power of two below n."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = textbook_root(leaves[:k]), textbook_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100, 1000])
def test_the_merkle_range_gives_the_rfc_6962_root(n: int) -> None:
    leaves = [hashlib.sha256(b"\x00" + bytes([i % 256, i // 256])).digest() for i in range(n)]
    merkle = MerkleRange()
    for i, leaf in enumerate(leaves):
        merkle.add(leaf)
        if i == n // 2:  # resuming from a frontier changes nothing
            merkle = MerkleRange(merkle.size, merkle.frontier)
    assert merkle.root() == textbook_root(leaves)
    assert len(merkle.frontier) == bin(n).count("1")


def test_a_checkpoint_signature_covers_every_field() -> None:
    key = Ed25519PrivateKey.generate()
    public = parse_public_key(public_key_text(key.public_key()))
    checkpoint = Checkpoint("o", 3, 3, "ab", ["ab"], [2], "id", "pk", "now").signed(key)
    assert Checkpoint.loads(checkpoint.dumps()).signature_holds(public)
    moved = Checkpoint.loads(checkpoint.dumps().replace(b'"quarantined":[2]', b'"quarantined":[]'))
    assert not moved.signature_holds(public)


def test_the_quarantine_survives_a_snapshot() -> None:
    quarantine = Quarantine()
    quarantine.add(7, "ev.job.x.y", "garbage")
    again = Quarantine()
    again.restore(orjson.loads(orjson.dumps(quarantine.dump())))
    assert (again.count, again.last_seq) == (1, 7)
    assert list(again.entries) == [(7, "ev.job.x.y", "garbage")]
