"""HMAC-SHA256, as `hmac.digest(key, message, "sha256")` gives it, but from states keyed once per
key: OpenSSL 3 sets a key up on every call (about 4 µs, more than hashing a message), and a
replay checks one MAC per event, a request one per token."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

_BLOCK = 64
"""SHA-256's block size: HMAC pads its key to it (RFC 2104)."""


@lru_cache(maxsize=8)
def _pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states with the inner and the outer padded key already absorbed."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """`hmac.digest(key, message, "sha256")`."""
    inner, outer = _pads(key)
    inner, outer = inner.copy(), outer.copy()
    inner.update(message)
    outer.update(inner.digest())
    digest: bytes = outer.digest()
    return digest
