"""A small fake GitHub (OAuth 2.0 web flow and the two REST calls JetDeck makes), served in
process: authlib reaches it through `httpx.ASGITransport`, whatever host a URL names."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import RedirectResponse

CLIENT_ID = "jetdeck-github"
CLIENT_SECRET = "github-client-secret"


@dataclass
class GithubAccount:
    id: int
    login: str
    emails: list[dict[str, Any]]


def account(user_id: int, login: str, email: str, verified: bool = True) -> GithubAccount:
    return GithubAccount(user_id, login, [{"email": email, "primary": True, "verified": verified}])


@dataclass
class Grant:
    login: str
    redirect_uri: str
    challenge: str


@dataclass
class FakeGithub:
    accounts: dict[str, GithubAccount]
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.get("/login/oauth/authorize")(self.authorize)
        app.post("/login/oauth/access_token")(self.access_token)
        app.get("/user")(self.user)
        app.get("/user/emails")(self.emails)
        return app

    async def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        code_challenge_method: str,
        login: str,
    ) -> RedirectResponse:
        """Where the person approves; `login` says who they are (GitHub knows by its cookie)."""
        assert (client_id, code_challenge_method) == (CLIENT_ID, "S256")
        code = secrets.token_hex(8)
        self.grants[code] = Grant(login, redirect_uri, code_challenge)
        query = urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    async def access_token(self, request: Request) -> dict[str, str]:
        """GitHub answers a bad code with 200 and an `error` field; so does this."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = self.grants.pop(form.get("code", ""), None)
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if grant is None or (grant.redirect_uri, grant.challenge) != (
            form.get("redirect_uri"),
            challenge,
        ):
            return {"error": "bad_verification_code"}
        if request.headers.get("authorization") != f"Basic {basic}":
            return {"error": "incorrect_client_credentials"}
        token = "gho_" + secrets.token_hex(16)
        self.tokens[token] = grant.login
        return {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}

    def _account(self, authorization: str) -> GithubAccount:
        login = self.tokens.get(authorization.removeprefix("Bearer "))
        if login is None:
            raise HTTPException(401, "Bad credentials")
        return self.accounts[login]

    async def user(self, authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
        found = self._account(authorization)
        return {"id": found.id, "login": found.login, "email": None}

    async def emails(self, authorization: Annotated[str, Header()] = "") -> list[dict[str, Any]]:
        return self._account(authorization).emails
