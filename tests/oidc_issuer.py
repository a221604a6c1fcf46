"""A fake OIDC issuer in process (discovery and JWKS over `httpx.ASGITransport`, no socket) that
records every request JetDeck sends anywhere, and tokens signed with locally made keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwk, jwt

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "jetdeck:test"
KEY = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
EC_KEY = jwk.ECKey.generate_key("P-256", parameters={"kid": "e1", "alg": "ES256", "use": "sig"})
ATTACKER = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
"""Made by someone else, under the issuer's key id."""


class RecordingTransport(httpx.ASGITransport):
    """Serves every request from the fake issuer, whatever host it names, and records it."""

    def __init__(self, issuer: FakeIssuer) -> None:
        super().__init__(app=issuer.app)
        self.issuer = issuer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.issuer.requests.append(str(request.url))
        return await super().handle_async_request(request)


class FakeIssuer:
    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.published: list[dict[str, Any]] = [
            KEY.as_dict(private=False),
            EC_KEY.as_dict(private=False),
        ]
        self.discovery = {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks"}
        self.requests: list[str] = []
        self.app = FastAPI()
        self.app.get("/.well-known/openid-configuration")(lambda: self.discovery)
        self.app.get("/.well-known/jwks")(lambda: {"keys": self.published})

    def http(self) -> httpx.AsyncClient:
        """The factory JetDeck makes its issuer clients with."""
        return httpx.AsyncClient(transport=RecordingTransport(self))

    @property
    def key_fetches(self) -> int:
        return sum(url.endswith("/jwks") for url in self.requests)


def claims(**changes: Any) -> dict[str, Any]:
    """A GitHub Actions token's claims for a push to main; a change to None drops the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_owner_id": "123456",
        "ref": "refs/heads/main",
        "event_name": "push",
        "job_workflow_ref": "octo-org/octo-repo/.github/workflows/agents.yml@refs/heads/main",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def sign(body: dict[str, Any], key: jwk.Key = KEY, alg: str = "RS256", kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, body, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


def unsigned(body: dict[str, Any]) -> str:
    """`alg: none`."""
    return f"{_part({'alg': 'none', 'kid': 'k1'})}.{_part(body)}."


def hs256_with_public_key(body: dict[str, Any]) -> str:
    """Algorithm confusion: HMAC keyed with the issuer's public key PEM, which anyone has."""
    signing_input = f"{_part({'alg': 'HS256', 'kid': 'k1'})}.{_part(body)}"
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(mac.digest())}"
