"""One door for every credential: a presented secret becomes a principal, or a 401.

Every failure answers with the same message, so a caller learns nothing about whether its secret
was unknown, expired, revoked or malformed; the reason goes to the debug log, the secret never.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from domain.errors import UnauthorizedError
from domain.identity import Principal, PrincipalKind
from infra.access import SERVICE_PREFIX, AccessService, utcnow
from infra.agent_tokens import AGENT_PREFIX
from infra.agents import AgentService
from infra.sessions import SESSION_PREFIX, Session, SessionStore

INVALID_CREDENTIALS = "missing, invalid, expired or revoked credentials"
log = logging.getLogger(__name__)
T = TypeVar("T")


class Authenticator:
    def __init__(self, access: AccessService, agents: AgentService, sessions: SessionStore) -> None:
        self.access = access
        self.agents = agents
        self.sessions = sessions

    async def principal(self, secret: str) -> Principal:
        return await _uniformly(self._principal(secret))

    async def session(self, secret: str) -> Session:
        """The login session a secret opens; any other kind of secret opens none."""
        return await _uniformly(self._session(secret))

    async def _session(self, secret: str) -> Session:
        if not secret.startswith(SESSION_PREFIX):
            raise UnauthorizedError("not a session token")
        return await self.sessions.open(secret)

    async def _principal(self, secret: str) -> Principal:
        if secret.startswith(SERVICE_PREFIX):
            return self.access.service(secret, utcnow())
        if secret.startswith(AGENT_PREFIX):
            agent_id = await self.agents.authenticate(secret)
            return Principal(PrincipalKind.AGENT, agent_id)
        if secret.startswith(SESSION_PREFIX):
            return self.access.user((await self.sessions.open(secret)).record.email)
        raise UnauthorizedError("unknown kind of credential")


async def _uniformly(attempt: Awaitable[T]) -> T:
    try:
        return await attempt
    except UnauthorizedError as exc:
        log.debug("credentials refused: %s", exc)
        raise UnauthorizedError(INVALID_CREDENTIALS) from None
