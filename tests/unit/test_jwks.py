"""The issuer key cache against a fake issuer in process: what it trusts, and how often it asks."""

from __future__ import annotations

import asyncio

import pytest

from domain.errors import UnauthorizedError, UnavailableError
from infra.jwks import JwksCache
from infra.settings import WorkloadIdentitySettings
from tests.oidc_issuer import ISSUER, FakeIssuer


def cache(issuer: FakeIssuer, min_refresh_s: float = 60.0) -> JwksCache:
    return JwksCache(issuer.http, WorkloadIdentitySettings(jwks_min_refresh_s=min_refresh_s))


async def test_keys_are_fetched_once_and_reused() -> None:
    issuer = FakeIssuer()
    keys = cache(issuer)
    assert (await keys.key(ISSUER, "k1")).algorithm_name == "RS256"
    assert (await keys.key(ISSUER, "e1")).algorithm_name == "ES256"
    assert issuer.requests == [
        f"{ISSUER}/.well-known/openid-configuration",
        f"{ISSUER}/.well-known/jwks",
    ]


async def test_a_flood_of_unknown_key_ids_makes_one_fetch() -> None:
    issuer = FakeIssuer()
    keys = cache(issuer)
    results = await asyncio.gather(
        *(keys.key(ISSUER, f"made-up-{n}") for n in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, UnauthorizedError) for r in results)
    assert issuer.key_fetches == 1


async def test_an_unknown_key_id_refetches_once_the_interval_allows() -> None:
    issuer = FakeIssuer()
    keys = cache(issuer, min_refresh_s=0)
    await keys.key(ISSUER, "k1")
    with pytest.raises(UnauthorizedError):
        await keys.key(ISSUER, "k2")
    assert issuer.key_fetches == 2


async def test_an_empty_key_set_does_not_replace_the_keys_in_hand() -> None:
    issuer = FakeIssuer()
    keys = cache(issuer, min_refresh_s=0)
    await keys.key(ISSUER, "k1")
    issuer.published = []
    with pytest.raises(UnauthorizedError):
        await keys.key(ISSUER, "rotated")
    assert (await keys.key(ISSUER, "k1")).key_id == "k1"


async def test_symmetric_and_unpinned_keys_are_never_used() -> None:
    issuer = FakeIssuer()
    issuer.published = [
        {"kty": "oct", "kid": "h1", "k": "c2VjcmV0", "alg": "HS256"},
        issuer.published[0] | {"kid": "r384", "alg": "RS384"},
        issuer.published[0] | {"kid": "enc", "use": "enc"},
    ]
    keys = cache(issuer)
    for kid in ("h1", "r384", "enc"):
        with pytest.raises(UnauthorizedError):
            await keys.key(ISSUER, kid)


@pytest.mark.parametrize(
    "discovery",
    [
        {"issuer": "https://evil.example", "jwks_uri": f"{ISSUER}/.well-known/jwks"},
        {"issuer": ISSUER, "jwks_uri": "https://evil.example/.well-known/jwks"},
        {"issuer": ISSUER, "jwks_uri": "http://token.actions.githubusercontent.com/jwks"},
        {"issuer": ISSUER},
    ],
    ids=["other issuer", "keys on another host", "keys over http", "no jwks_uri"],
)
async def test_a_discovery_document_that_points_elsewhere_is_not_followed(
    discovery: dict[str, str],
) -> None:
    issuer = FakeIssuer()
    issuer.discovery = discovery
    with pytest.raises(UnavailableError):
        await cache(issuer).key(ISSUER, "k1")
    assert issuer.key_fetches == 0
