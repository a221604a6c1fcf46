"""Login against real providers on loopback: oidc-provider-mock (a real OIDC provider: discovery,
JWKS, code flow with PKCE and nonce) in a thread, and a fake GitHub in process.

Providers configured for every app here:
* `corp`: the mock, which refuses authorization requests without a nonce;
* `lax`: a second mock, which issues ID tokens without a nonce when none was asked for;
* `relay`: the first mock, reached through a transport that swaps our client's credentials for
  another client's at the token endpoint, so the ID token it gets is for another audience;
* `github`: the fake GitHub.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import oidc_provider_mock
import pytest
from fastapi import FastAPI
from oidc_provider_mock import User

from api.app import create_app
from infra.embedded_server import EmbeddedServer
from infra.settings import Settings
from tests.api.login.browser import OTHER_CLIENT
from tests.api.login.fake_github import CLIENT_ID, CLIENT_SECRET, FakeGithub, account
from tests.tokens import ADMIN_TOKEN

OIDC_CLIENT = "jetdeck"
OIDC_SECRET = "oidc-client-secret"
USERS = [
    User(sub="u-alice", claims={"email": "Alice@Example.com", "email_verified": True}),
    User(sub="u-bob", claims={"email": "bob@corp.example", "email_verified": True}),
    User(sub="u-mallory", claims={"email": "mallory@elsewhere.example", "email_verified": True}),
    User(sub="u-eve", claims={"email": "eve@example.com", "email_verified": False}),
]


@pytest.fixture(scope="session")
def issuer() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(require_nonce=True, user_claims=USERS) as server:
        yield f"http://localhost:{server.server_port}"  # the mock's `iss` follows the Host


@pytest.fixture(scope="session")
def lax_issuer() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(user_claims=USERS) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def github() -> FakeGithub:
    return FakeGithub(
        {
            "octo": account(583231, "octo", "octo@example.com"),
            "newbie": account(7, "newbie", "newbie@example.com", verified=False),
            "outsider": account(8, "outsider", "outsider@elsewhere.example"),
        }
    )


def oidc_provider(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "client_id": OIDC_CLIENT,
        "client_secret": OIDC_SECRET,
        "allow": "alice@example.com, @corp.example, eve@example.com",
    }


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, fresh_server: EmbeddedServer, issuer: str, lax_issuer: str
) -> Settings:
    """Override fields per test: `@pytest.mark.parametrize("settings", [{...}], indirect=True)`."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    github = {"kind": "github", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    providers = {
        "corp": oidc_provider(issuer),
        "lax": oidc_provider(lax_issuer),
        "relay": oidc_provider(issuer),
        "github": github | {"allow": "octo@example.com, newbie@example.com"},
    }
    return Settings(
        nats_url=fresh_server.url,
        snapshot_every=100,
        bootstrap_admin_token=ADMIN_TOKEN,
        oidc=providers,
        **overrides,
    )


class SwapClient(httpx.AsyncBaseTransport):
    """Authenticates at the token endpoint as another client than the one JetDeck is."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            other = base64.b64encode(f"{OTHER_CLIENT}:{OIDC_SECRET}".encode()).decode()
            request.headers["Authorization"] = f"Basic {other}"
        async with httpx.AsyncHTTPTransport() as network:
            response = await network.handle_async_request(request)
            await response.aread()
        return response


def transports(github: FakeGithub) -> dict[str, httpx.AsyncBaseTransport]:
    return {"github": httpx.ASGITransport(app=github.app()), "relay": SwapClient()}


@pytest.fixture
async def app(settings: Settings, github: FakeGithub) -> AsyncIterator[FastAPI]:
    app = create_app(settings, login_transports=transports(github))
    async with app.router.lifespan_context(app):
        yield app
