"""Login providers, from `JETDECK_OIDC__<NAME>__<FIELD>` variables.

`KIND=oidc` (Google, company SSO) reads its endpoints from the issuer's discovery document;
`KIND=github` is plain OAuth 2.0 on GitHub's fixed paths under ISSUER, with its REST API at
API_URL. A provider lets in only the verified emails its ALLOW list names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import NoDecode

GITHUB = "https://github.com"
GITHUB_API = "https://api.github.com"
GOOGLE = "https://accounts.google.com"


class ProviderKind(StrEnum):
    OIDC = "oidc"
    GITHUB = "github"


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip().lower() for part in value.split(",") if part.strip()]
    return value


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_base_url)]


class LoginProvider(BaseModel):
    kind: ProviderKind = ProviderKind.OIDC
    issuer: BaseUrl | None = None
    """OIDC: the issuer, whose discovery document names the endpoints. GitHub: its base URL."""
    api_url: BaseUrl = GITHUB_API
    """GitHub only: the REST API's base URL."""
    client_id: Annotated[str, Field(min_length=1)]
    client_secret: SecretStr
    allow: Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)] = []
    """Emails and `@domain`s, comma-separated; empty lets nobody in."""

    @model_validator(mode="after")
    def _issuer_known(self) -> LoginProvider:
        if self.kind is ProviderKind.GITHUB:
            self.issuer = self.issuer or GITHUB
        elif self.issuer is None:
            raise ValueError("an oidc login provider needs its ISSUER")
        return self

    @property
    def base_url(self) -> str:
        assert self.issuer is not None  # set for every kind by the validator
        return self.issuer

    @property
    def issuers(self) -> list[str]:
        """The `iss` values its ID tokens may carry: Google also signs with its legacy one."""
        legacy = ["accounts.google.com"] if self.base_url == GOOGLE else []
        return [self.base_url, *legacy]

    def allows(self, email: str) -> bool:
        email = email.lower()
        domain = "@" + email.rpartition("@")[2]
        return email in self.allow or domain in self.allow
