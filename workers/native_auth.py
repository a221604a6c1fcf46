"""Who sends a native request: its token, checked as the HTTP bearer token is, for the permission
its operation needs, and the context its command runs in."""

from __future__ import annotations

from uuid import uuid4

from domain.commands.base import CommandContext
from domain.errors import UnauthorizedError
from domain.identity import Permission
from infra.authn import INVALID_CREDENTIALS
from infra.services import Services
from wire.common import request_hash


async def native_context(
    services: Services,
    token: str | None,
    permission: Permission,
    subject: str,
    body: str,
    key: str | None,
) -> CommandContext:
    """The token checked as the HTTP bearer token is, for `permission`. `body` leaves out the
    token (an agent's is renewed by heartbeats) and the key, as HTTP's hash leaves out headers."""
    if token is None:
        raise UnauthorizedError(INVALID_CREDENTIALS)
    principal = await services.authn.principal(token)
    principal.require(permission)
    hashed = request_hash(subject, body.encode())
    return CommandContext(principal, key or uuid4().hex, None, hashed)
