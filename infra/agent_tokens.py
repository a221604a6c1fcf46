"""Agents' tokens: issued at registration, handed back renewed on every heartbeat, checked on
every call an agent makes.

Renewing signs a token afresh at most once every `reissue_s` for an agent: an agent beating every
few seconds is handed the same token until then, rather than one signed for each beat, so a
renewed token expires at most `reissue_s` sooner than one signed on the spot would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.errors import UnauthorizedError
from infra.tokens import AgentIdentity, Signer

AGENT_PREFIX = "jdagt_"
REISSUE_S = 60.0
Clock = Callable[[], float]
"""Unix time, in seconds."""


class AgentTokens:
    def __init__(
        self, signer: Signer, ttl_s: float, reissue_s: float = REISSUE_S, clock: Clock = time.time
    ) -> None:
        self.signer = signer
        self.ttl_s = ttl_s
        self.reissue_s = reissue_s
        self.clock = clock
        self._renewed: dict[tuple[str, int], str] = {}
        """Tokens signed since `_since`, by agent and registration sequence; forgotten all at once
        `reissue_s` later, so this holds only the agents that beat lately."""
        self._since = clock()

    def issue(self, agent_id: str, seq: int) -> str:
        """A token for the agent registered at `seq`, signed now."""
        identity = AgentIdentity(agent_id=agent_id, seq=seq, expires_at=self.clock() + self.ttl_s)
        return AGENT_PREFIX + self.signer.sign(identity)

    def renewed(self, agent_id: str, seq: int) -> str:
        now = self.clock()
        if now - self._since >= self.reissue_s:
            self._renewed.clear()
            self._since = now
        key = (agent_id, seq)
        token = self._renewed.get(key)
        if token is None:
            token = self._renewed[key] = self.issue(agent_id, seq)
        return token

    def identity(self, token: str) -> AgentIdentity:
        """Who a token speaks for, if it is ours and has not expired."""
        identity = self.signer.verify(token.removeprefix(AGENT_PREFIX), AgentIdentity)
        if identity.expires_at <= self.clock():
            raise UnauthorizedError(f"the token of agent {identity.agent_id} expired")
        return identity
