"""Signed tokens: claim tokens for one attempt of a job, agent tokens for one agent.

Signed by a secret every API replica shares, so any replica can check them without shared state.
A claim token carries the queue message's ack subject, so extending or ending the lease needs
nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import secrets
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from pydantic import BaseModel, ConfigDict, ValidationError

from domain.errors import UnauthorizedError, UnavailableError
from infra.layout import CONFIG_BUCKET
from infra.macs import hmac_sha256

T = TypeVar("T", bound=BaseModel)
SECRET_BYTES = 32
WRITER_KEY = "writer-key"
"""The writer key's name in the config bucket."""


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    attempt: int
    agent_id: str
    ack_subject: str
    lease_s: int


class AgentIdentity(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    seq: int
    """A sequence at which the agent was registered: a read model that has it knows the agent."""
    expires_at: float
    """Unix time after which the token opens nothing; heartbeats hand out fresh ones."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """`<body>.<mac>`; the mac covers the token's kind, so one kind never passes for another."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _mac(self, kind: str, body: bytes) -> bytes:
        return hmac_sha256(self.secret, kind.encode() + b"\n" + body)

    def sign(self, token: BaseModel) -> str:
        body = token.model_dump_json().encode()
        return f"{_b64(body)}.{_b64(self._mac(type(token).__name__, body))}"

    def verify(self, token: str, kind: type[T]) -> T:
        try:
            body_part, mac_part = token.split(".")
            body = _unb64(body_part)
            mac = _unb64(mac_part)
        except ValueError as exc:
            raise UnauthorizedError(f"{kind.__name__} token is malformed") from exc
        if not hmac.compare_digest(self._mac(kind.__name__, body), mac):
            raise UnauthorizedError(f"{kind.__name__} token signature does not match")
        try:
            return kind.model_validate_json(body)
        except ValidationError as exc:
            raise UnauthorizedError(f"{kind.__name__} token is malformed") from exc


async def shared_secret(js: JetStreamContext, configured: str | None) -> bytes:
    """The configured secret, else one generated once and kept in the config bucket."""
    return await config_secret(js, "token-secret", configured)


async def event_writer_key(js: JetStreamContext, configured: str | None) -> bytes:
    """The key that seals every event (infra.codec); like the token secret, the `agent` user
    cannot read it."""
    return await config_secret(js, WRITER_KEY, configured)


async def config_secret(js: JetStreamContext, name: str, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    kv = await js.key_value(CONFIG_BUCKET)
    with contextlib.suppress(KeyWrongLastSequenceError):  # another process made it first
        await kv.create(name, secrets.token_bytes(SECRET_BYTES))
    entry = await kv.get(name)
    if entry.value is None or len(entry.value) != SECRET_BYTES:
        # only JetDeck wrote it, as 32 random bytes: anything else means someone else did
        raise UnavailableError(f"{CONFIG_BUCKET}/{name} is not a secret JetDeck made; refusing it")
    return entry.value
