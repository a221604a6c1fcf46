"""Claim tokens: what an agent holds for one attempt, signed so any API replica can trust it.

The token carries the queue message's ack subject, so extending or ending the lease needs no
state shared between replicas.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets

import orjson
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from pydantic import BaseModel, ConfigDict, ValidationError

from domain.errors import UnauthorizedError
from infra.layout import CONFIG_BUCKET


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    attempt: int
    agent_id: str
    ack_subject: str
    lease_s: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ClaimSigner:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self.secret, body, hashlib.sha256).digest()

    def sign(self, claim: Claim) -> str:
        body = orjson.dumps(claim.model_dump())
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def verify(self, token: str) -> Claim:
        try:
            body_part, mac_part = token.split(".")
            body = _unb64(body_part)
            if not hmac.compare_digest(self._mac(body), _unb64(mac_part)):
                raise UnauthorizedError("claim token signature does not match")
            return Claim.model_validate_json(body)
        except (ValueError, ValidationError) as exc:
            raise UnauthorizedError("claim token is malformed") from exc


async def shared_secret(js: JetStreamContext, configured: str | None) -> bytes:
    """The configured secret, else one generated once and kept in the config bucket."""
    if configured:
        return configured.encode()
    kv = await js.key_value(CONFIG_BUCKET)
    with contextlib.suppress(KeyWrongLastSequenceError):  # another process made it first
        await kv.create("claim-secret", secrets.token_bytes(32))
    entry = await kv.get("claim-secret")
    assert entry.value is not None
    return entry.value
