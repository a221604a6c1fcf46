"""The signing keys of trusted OIDC issuers, fetched through their discovery document and cached.

Only issuers a trust policy names are ever asked: the caller checks that first, since fetching
whatever URL a token names would let anyone make JetDeck send requests (SSRF). An unknown key id
triggers a refetch (issuers rotate keys), but never more often than `min_refresh_s`, and an empty
key set never replaces the keys in hand.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import jwt
import orjson
from pydantic import BaseModel, ValidationError

from domain.errors import UnauthorizedError, UnavailableError
from infra.settings import WorkloadIdentitySettings

HttpFactory = Callable[[], httpx.AsyncClient]
"""Makes the client for one refresh; tests pass one over an in-process ASGI issuer."""
ALGORITHMS = ("RS256", "ES256")
MAX_DOCUMENT_BYTES = 256 * 1024
"""Discovery documents and key sets are a few KB; an issuer answering more is not one."""
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def http_factory(timeout_s: float) -> HttpFactory:
    """Redirects are not followed: a redirect is the issuer pointing somewhere else."""
    return lambda: httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)


class Discovery(BaseModel):
    issuer: str
    jwks_uri: str


class KeySet(BaseModel):
    keys: list[dict[str, Any]]


@dataclass
class _Keys:
    by_kid: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = -math.inf
    """When `by_kid` was last replaced: the TTL counts from here."""
    tried_at: float = -math.inf
    """The last fetch, whatever came of it: the rate limit counts from here."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    def __init__(self, http: HttpFactory, settings: WorkloadIdentitySettings) -> None:
        self.http = http
        self.ttl_s = settings.jwks_ttl_s
        self.min_refresh_s = settings.jwks_min_refresh_s
        self._issuers: dict[str, _Keys] = {}
        """Only issuers a policy named, so it cannot grow at a caller's will."""

    async def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        keys = self._issuers.setdefault(issuer, _Keys())
        async with keys.lock:  # concurrent misses wait for one fetch instead of each making one
            now = time.monotonic()
            if self._due(keys, kid, now):
                keys.tried_at = now
                fetched = await self._fetch(issuer)
                if fetched:
                    keys.by_kid, keys.fetched_at = fetched, now
        found = keys.by_kid.get(kid)
        if found is None:
            raise UnauthorizedError(f"issuer {issuer} has no key {kid!r}")
        return found

    def _due(self, keys: _Keys, kid: str, now: float) -> bool:
        wanted = kid not in keys.by_kid or now - keys.fetched_at >= self.ttl_s
        return wanted and now - keys.tried_at >= self.min_refresh_s

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        async with self.http() as client:
            url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
            discovery = await _get(client, url, Discovery)
            _check_discovery(issuer, discovery)
            key_set = await _get(client, discovery.jwks_uri, KeySet)
        usable = _usable(key_set)
        log.info("fetched %d usable keys of issuer %s", len(usable), issuer)
        return usable


def _check_discovery(issuer: str, discovery: Discovery) -> None:
    """The document must speak for the issuer asked, and keep its keys on the issuer's host."""
    if discovery.issuer != issuer:
        raise UnavailableError(f"the discovery document of {issuer} names {discovery.issuer}")
    where, home = urlsplit(discovery.jwks_uri), urlsplit(issuer)
    if where.scheme != "https" or where.netloc != home.netloc:
        raise UnavailableError(f"issuer {issuer} keeps its keys elsewhere: {discovery.jwks_uri}")


async def _get(client: httpx.AsyncClient, url: str, model: type[M]) -> M:
    """`url`'s JSON as `model`; any failure means the issuer cannot be used right now."""
    try:
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise UnavailableError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        return model.model_validate(orjson.loads(body))
    except (httpx.HTTPError, orjson.JSONDecodeError, ValidationError) as exc:
        raise UnavailableError(f"could not read {url}: {exc!r}") from exc


def _usable(key_set: KeySet) -> dict[str, jwt.PyJWK]:
    """Signing keys with an id, for an algorithm JetDeck accepts; anything else is skipped."""
    usable: dict[str, jwt.PyJWK] = {}
    for data in key_set.keys:
        kid = data.get("kid")
        if not isinstance(kid, str) or data.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(data)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALGORITHMS:
            usable[kid] = key
    return usable
