"""Clients of both kinds against the API under uvicorn, and the in-process app for tests that
pause the nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from client import AsyncJetDeck, JetDeck
from tests.api.conftest import app, services, settings
from tests.client.helpers import Deck
from tests.e2e.conftest import Api, api

__all__ = ["api", "app", "decks", "services", "settings"]


@pytest.fixture(params=["sync", "async"])
async def decks(request: pytest.FixtureRequest, api: Api) -> AsyncIterator[Callable[[str], Deck]]:
    """Opens clients of one kind (the test runs once per kind), each with the token given."""
    opened: list[Deck] = []

    def open_deck(token: str) -> Deck:
        deck = JetDeck(api.url, token) if request.param == "sync" else AsyncJetDeck(api.url, token)
        opened.append(deck)
        return deck

    yield open_deck
    for deck in opened:
        if isinstance(deck, JetDeck):
            deck.close()
        else:
            await deck.aclose()
