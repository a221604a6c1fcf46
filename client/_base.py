"""What both clients hold: the address, the token, the retry policy, and every operation."""

from __future__ import annotations

from client.agents import Agents
from client.queue import Queueing
from client.reads import Reading
from client.reporting import Reporting

DEFAULT_TIMEOUT_S = 30.0


class Operations(Reporting, Queueing, Agents, Reading):
    """Every operation once; `JetDeck` answers them, `AsyncJetDeck` awaits them."""


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
