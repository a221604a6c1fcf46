"""The pre-keyed HMAC that seals events and signs tokens is the standard one, for any key."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from infra.macs import hmac_sha256
from infra.tokens import AgentIdentity, Signer


@pytest.mark.parametrize("key", [b"", b"k", b"w" * 32, b"x" * 64, b"long" * 40])
def test_the_pre_keyed_mac_is_the_standard_hmac(key: bytes) -> None:
    for message in (b"", b"ev.job.1.created\n{}", bytes(range(256)) * 5):
        assert hmac_sha256(key, message) == hmac.digest(key, message, hashlib.sha256)


def test_a_token_signed_before_the_pre_keyed_mac_still_verifies() -> None:
    """Tokens handed out by a process of the earlier code (`hmac.new`) open the same doors."""
    secret = b"s" * 32
    identity = AgentIdentity(agent_id="a-1", seq=7, expires_at=1e12)
    body = identity.model_dump_json().encode()
    mac = hmac.new(secret, b"AgentIdentity\n" + body, hashlib.sha256).digest()
    earlier = Signer(secret).sign(identity).split(".")[0] + "." + _b64(mac)
    assert Signer(secret).verify(earlier, AgentIdentity) == identity


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
