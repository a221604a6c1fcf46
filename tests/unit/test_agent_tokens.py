"""An agent's token: renewed on its heartbeats without being signed for each, checked on its
calls, and refused once it has expired."""

from __future__ import annotations

import pytest

from domain.errors import UnauthorizedError
from infra.agent_tokens import AGENT_PREFIX, AgentTokens
from infra.tokens import AgentIdentity, Signer

TTL_S = 3600.0
REISSUE_S = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> AgentTokens:
    return AgentTokens(Signer(b"k" * 32), TTL_S, REISSUE_S, clock)


def test_an_issued_token_names_its_agent_and_expires_a_ttl_later(
    tokens: AgentTokens, clock: Clock
) -> None:
    token = tokens.issue("agent-1", 7)
    assert token.startswith(AGENT_PREFIX)
    assert tokens.identity(token) == AgentIdentity(
        agent_id="agent-1", seq=7, expires_at=clock.now + TTL_S
    )


def test_beats_within_the_reissue_time_are_handed_one_token(
    tokens: AgentTokens, clock: Clock
) -> None:
    first = tokens.renewed("agent-1", 7)
    clock.now += REISSUE_S - 1
    assert tokens.renewed("agent-1", 7) == first
    assert tokens.renewed("agent-2", 7) != first  # each agent its own
    assert tokens.renewed("agent-1", 8) != first  # and each registration
    clock.now += 1
    later = tokens.renewed("agent-1", 7)
    assert later != first
    assert tokens.identity(later).expires_at == clock.now + TTL_S
    assert tokens.identity(first).expires_at == clock.now + TTL_S - REISSUE_S  # never staler


def test_an_expired_token_opens_nothing(tokens: AgentTokens, clock: Clock) -> None:
    token = tokens.issue("agent-1", 7)
    clock.now += TTL_S - 1
    assert tokens.identity(token).agent_id == "agent-1"
    clock.now += 1
    with pytest.raises(UnauthorizedError, match="expired"):
        tokens.identity(token)


def test_a_token_signed_with_another_secret_opens_nothing(tokens: AgentTokens) -> None:
    other = AgentTokens(Signer(b"x" * 32), TTL_S).issue("agent-1", 7)
    with pytest.raises(UnauthorizedError, match="signature"):
        tokens.identity(other)
