"""Signed checkpoints of EVENTS: an RFC 6962 Merkle root over every event up to a sequence.

Leaf = SHA-256(0x00 ‖ seq as 8 bytes big-endian ‖ event hash), where the event hash is the raw
SHA-256 of subject "\\n" content (the chain hash, `domain.recorded.chain_hash`, without hex);
node = SHA-256(0x01 ‖ left ‖ right). The state is a compact range (one hash per set bit of the
size, at most 64), so a checker resumes at `last_seq + 1` from a checkpoint's `frontier`.

A record in AUDIT (`audit.checkpoint.EVENTS`) is JSON; `sig` is Ed25519 over the canonical JSON
(sorted keys) of every other field. Leaves cover every sequence, forged events included, so the
root commits to the whole log; the sequences whose MAC did not hold since the previous checkpoint
are named in `quarantined`, so a signature never vouches for a forged event.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nats.aio.client import Client

from infra.event_store import EventStore
from infra.layout import AUDIT, CHECKPOINT_SUBJECT
from infra.nats_auth import write_private

ORIGIN = "jetdeck/EVENTS"
KEY_FILE = Path("audit") / "checkpoint.key"
"""Under the data directory: the signing key's 32-byte seed, base64."""
PUBLIC_PREFIX = "ed25519:"


def event_digest(subject: str, content: bytes) -> bytes:
    return hashlib.sha256(subject.encode() + b"\n" + content).digest()


def leaf(seq: int, digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + seq.to_bytes(8, "big") + digest).digest()


class MerkleRange:
    """The perfect subtrees of an RFC 6962 tree, largest first; folding them gives its root."""

    def __init__(self, size: int = 0, frontier: list[bytes] | None = None) -> None:
        self.size = size
        self.frontier = list(frontier or [])

    def add(self, leaf_hash: bytes) -> None:
        self.frontier.append(leaf_hash)
        self.size += 1
        # As in binary addition: one merge per trailing zero bit of the new size.
        merges, size = 0, self.size
        while size & 1 == 0:
            merges += 1
            size >>= 1
        sha256 = hashlib.sha256
        for _ in range(merges):
            right = self.frontier.pop()
            self.frontier[-1] = sha256(b"\x01" + self.frontier[-1] + right).digest()

    def root(self) -> bytes:
        if not self.frontier:
            return hashlib.sha256(b"").digest()
        node = self.frontier[-1]
        for left in reversed(self.frontier[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    """Leaves: the events seen, which is `last_seq` unless messages went missing before it."""
    last_seq: int
    root: str
    frontier: list[str]
    quarantined: list[int]
    """Sequences after the previous checkpoint whose MAC did not hold."""
    key_id: str
    public_key: str
    """`public_key_text` of the signer: a hint for finding the key, never a reason to trust it."""
    at: str
    sig: str = ""

    def body(self) -> bytes:
        fields = asdict(self)
        del fields["sig"]
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        sig = base64.b64encode(key.sign(self.body())).decode()
        return Checkpoint(**(asdict(self) | {"sig": sig}))

    def signature_holds(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.sig), self.body())
        except (InvalidSignature, ValueError):
            return False
        return True

    def merkle(self) -> MerkleRange:
        return MerkleRange(self.size, [bytes.fromhex(h) for h in self.frontier])

    def dumps(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def loads(cls, data: bytes) -> Checkpoint:
        """Raises ValueError, KeyError or TypeError on a record that is not a checkpoint."""
        return cls(**orjson.loads(data))


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    """`ed25519:<base64 of the 32-byte key>`: what `jetdeck audit pubkey` prints."""
    return PUBLIC_PREFIX + base64.b64encode(raw_public(public)).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text.removeprefix(PUBLIC_PREFIX)))


def signing_key(data_dir: Path, configured: str | None) -> Ed25519PrivateKey:
    """The configured seed (base64), else the one in the data directory, made at first start."""
    if configured:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(configured))
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, base64.b64encode(os.urandom(32)).decode())
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text().strip()))


def local_public_key(data_dir: Path) -> Ed25519PublicKey | None:
    """The public half of the key in the data directory, if this machine signs checkpoints."""
    path = data_dir / KEY_FILE
    if not path.exists():
        return None
    return signing_key(data_dir, None).public_key()


async def stored_checkpoints(nc: Client) -> list[Checkpoint]:
    """Every record in AUDIT that parses as a checkpoint, oldest first (signatures unchecked)."""
    found: list[Checkpoint] = []
    for message in await EventStore(nc, stream=AUDIT).load(CHECKPOINT_SUBJECT):
        try:
            found.append(Checkpoint.loads(message.payload))
        except (ValueError, KeyError, TypeError):
            continue
    return found
