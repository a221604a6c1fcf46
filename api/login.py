"""Login with an outside identity provider, through authlib's Starlette client: PKCE S256,
`state`, and for OIDC a `nonce`, all kept in the signed login-state cookie between the two legs.

Whatever goes wrong on the way back (a state this browser did not start, an ID token for another
audience or without our nonce, a used code, the provider's own error) is a 401. A person the
provider vouched for but may not log in (no verified email, not on the allow-list) is a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import ForbiddenError, NotFoundError, UnauthorizedError, UnavailableError
from infra.login_settings import LoginProvider, ProviderKind
from infra.sessions import LoginIdentity
from infra.settings import Settings

Transports = Mapping[str, httpx.AsyncBaseTransport]
"""Per provider, how authlib's HTTP client reaches it; tests put a fake GitHub in process."""
PROVIDER_ERRORS = (AuthlibBaseError, JoseError, httpx.HTTPError, ValueError)
"""What a provider's answers can raise on their way through authlib (ValueError: a body that
is not the JSON it should be)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Vouched:
    """What a provider says about the person: its id for them, their email, if it checked it."""

    subject: str
    email: str | None
    verified: bool


class GithubUser(BaseModel):
    id: int
    """The subject: a login can be renamed, and then taken by someone else."""


class GithubEmail(BaseModel):
    email: str
    primary: bool
    verified: bool


GITHUB_EMAILS = TypeAdapter(list[GithubEmail])


class Logins:
    def __init__(self, settings: Settings, transports: Transports | None = None) -> None:
        self.settings = settings
        self.oauth = OAuth()
        for name, provider in settings.oidc.items():
            transport = (transports or {}).get(name)
            self.oauth.register(name, **_client_config(provider, transport))

    def provider(self, name: str) -> LoginProvider:
        found = self.settings.oidc.get(name)
        if found is None:
            raise NotFoundError("login provider", name)
        return found

    async def redirect(self, request: Request, name: str) -> Response:
        """To the provider, with a new state (and nonce) bound to this browser."""
        self.provider(name)
        callback = f"{self.settings.public_base_url}/api/auth/callback/{name}"
        try:
            response: Response = await self.oauth.create_client(name).authorize_redirect(
                request, callback
            )
        except PROVIDER_ERRORS as exc:
            raise UnavailableError(f"login provider {name} did not answer: {exc!r}") from exc
        return response

    async def identity(self, request: Request, name: str) -> LoginIdentity:
        """The person the provider sent back to the callback, if they may log in."""
        provider = self.provider(name)
        client = self.oauth.create_client(name)
        vouch = _github if provider.kind is ProviderKind.GITHUB else _oidc
        try:
            vouched = await vouch(client, provider, request)
        except PROVIDER_ERRORS as exc:
            log.info("login with %s refused: %s", name, type(exc).__name__)
            raise UnauthorizedError(f"login with {name} failed: {type(exc).__name__}") from None
        if vouched.email is None or not vouched.verified:
            raise ForbiddenError(f"{name} vouches for no verified email of this account")
        email = vouched.email.lower()
        if not provider.allows(email):
            raise ForbiddenError(f"{email} may not log in with {name}")
        return LoginIdentity(name, vouched.subject, email)


def _client_config(
    provider: LoginProvider, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
    github = provider.kind is ProviderKind.GITHUB
    client_kwargs: dict[str, Any] = {
        "code_challenge_method": "S256",
        "scope": "read:user user:email" if github else "openid email profile",
    }
    if transport is not None:
        client_kwargs["transport"] = transport
    config: dict[str, Any] = {
        "client_id": provider.client_id,
        "client_secret": provider.client_secret.get_secret_value(),
        "client_kwargs": client_kwargs,
    }
    if github:
        return config | {
            "authorize_url": f"{provider.base_url}/login/oauth/authorize",
            "access_token_url": f"{provider.base_url}/login/oauth/access_token",
            "api_base_url": f"{provider.api_url}/",
        }
    discovery = f"{provider.base_url}/.well-known/openid-configuration"
    return config | {"server_metadata_url": discovery}


async def _oidc(client: Any, provider: LoginProvider, request: Request) -> Vouched:
    # authlib checks `aud` only against options it is given: without these, an ID token issued
    # to another client with `azp` set to ours would pass.
    options = {
        "iss": {"essential": True, "values": provider.issuers},
        "aud": {"essential": True, "value": provider.client_id},
    }
    token = await client.authorize_access_token(request, claims_options=options)
    claims = token.get("userinfo")
    if claims is None:
        raise UnauthorizedError("the provider sent no ID token")
    email = claims.get("email")
    verified = claims.get("email_verified") is True
    return Vouched(str(claims["sub"]), email if isinstance(email, str) else None, verified)


async def _github(client: Any, _: LoginProvider, request: Request) -> Vouched:
    """GitHub is OAuth 2.0, not OIDC: the person and their emails come from its REST API."""
    token = await client.authorize_access_token(request)
    user = GithubUser.model_validate(await _api(client, "user", token))
    emails = GITHUB_EMAILS.validate_python(await _api(client, "user/emails", token))
    primary = next((e for e in emails if e.primary), None)
    if primary is None:
        return Vouched(str(user.id), None, False)
    return Vouched(str(user.id), primary.email, primary.verified)


async def _api(client: Any, path: str, token: dict[str, Any]) -> Any:
    response: httpx.Response = await client.get(path, token=token)
    return response.raise_for_status().json()
