"""One door for every credential: a presented secret becomes a principal, or a 401.

Every failure answers with the same message, so a caller learns nothing about whether its secret
was unknown, expired, revoked or malformed; the reason goes to the debug log, the secret never.
"""

from __future__ import annotations

import logging

from domain.errors import UnauthorizedError
from domain.identity import Principal, PrincipalKind
from infra.access import SERVICE_PREFIX, AccessService, utcnow
from infra.agents import AGENT_PREFIX, AgentService

INVALID_CREDENTIALS = "missing, invalid, expired or revoked credentials"
log = logging.getLogger(__name__)


class Authenticator:
    def __init__(self, access: AccessService, agents: AgentService) -> None:
        self.access = access
        self.agents = agents

    async def principal(self, secret: str) -> Principal:
        try:
            return await self._principal(secret)
        except UnauthorizedError as exc:
            log.debug("credentials refused: %s", exc)
            raise UnauthorizedError(INVALID_CREDENTIALS) from None

    async def _principal(self, secret: str) -> Principal:
        if secret.startswith(SERVICE_PREFIX):
            return self.access.service(secret, utcnow())
        if secret.startswith(AGENT_PREFIX):
            agent_id = await self.agents.authenticate(secret)
            return Principal(PrincipalKind.AGENT, agent_id)
        raise UnauthorizedError("unknown kind of credential")
