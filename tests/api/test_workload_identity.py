"""Workload identity federation end to end: trust policies, `POST /api/auth/token` against a fake
issuer in process, and the registration it hands out, on a real nats-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from agent.api import AgentApi
from agent.host import Load
from api.app import create_app
from client import AsyncJetDeck
from domain.agent import HostInfo
from infra.authn import INVALID_CREDENTIALS
from infra.services import Services
from infra.settings import Settings
from infra.unit_of_work import load_history
from tests.api.conftest import http_client
from tests.api.helpers import ok
from tests.api.test_agents_support import AGENTS, HOST, bearer
from tests.oidc_issuer import (
    ATTACKER,
    AUDIENCE,
    EC_KEY,
    ISSUER,
    FakeIssuer,
    claims,
    hs256_with_public_key,
    sign,
    unsigned,
)

POLICIES = "/api/auth/trust-policies"
TOKEN = "/api/auth/token"
POLICY = {
    "name": "octo-org agents",
    "issuer": ISSUER,
    "audience": AUDIENCE,
    "claims": {"repository": "octo-org/octo-repo", "repository_owner_id": "123456"},
    "pool": "linux",
}
REFUSED = {"detail": INVALID_CREDENTIALS, "error": "unauthorized"}.items()
FAST_REFETCH = {"workload_identity": {"jwks_min_refresh_s": 0}}


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
async def app(settings: Settings, issuer: FakeIssuer) -> AsyncIterator[FastAPI]:
    """The API, fetching issuer keys from `issuer` only."""
    app = create_app(settings, http=issuer.http)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app, token=None) as client:
        yield client


@pytest.fixture
async def policy(client: httpx.AsyncClient) -> dict[str, Any]:
    created: dict[str, Any] = ok(await client.post(POLICIES, json=POLICY), 201)
    return created


def exchange_form(subject_token: str) -> dict[str, str]:
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "audience": "ignored",
    }


async def exchange(client: httpx.AsyncClient, subject_token: str) -> httpx.Response:
    return await client.post(TOKEN, data=exchange_form(subject_token))


async def register(client: httpx.AsyncClient, registration: str, pool: str) -> httpx.Response:
    body = {"name": "wif-agent", "pool": pool, "host": HOST}
    return await client.post(f"{AGENTS}/register", json=body, headers=bearer(registration))


async def last_seq(services: Services) -> int:
    return (await services.stream_state()).last_seq


@pytest.mark.usefixtures("policy")
@pytest.mark.parametrize("key", ["RS256", "ES256"])
async def test_a_trusted_token_registers_agents_in_its_policy_pool_only(
    anonymous: httpx.AsyncClient, services: Services, key: str
) -> None:
    token = sign(claims()) if key == "RS256" else sign(claims(), EC_KEY, "ES256", "e1")
    before = await last_seq(services)
    response = await exchange(anonymous, token)
    answer = ok(response)
    assert await last_seq(services) == before  # the exchange itself records nothing
    assert response.headers["Cache-Control"] == "no-store"
    assert answer["access_token"].startswith("jdreg_")
    assert answer | {"access_token": ""} == {
        "access_token": "",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": "Bearer",
        "expires_in": 900,
    }
    registered = ok(await register(anonymous, answer["access_token"], "linux"), 201)
    assert registered["agent_token"].startswith("jdagt_")
    refused = await register(anonymous, answer["access_token"], "default")
    assert ok(refused, 403)["error"] == "forbidden"


REFUSED_TOKENS: dict[str, Callable[[], str]] = {
    "wrong issuer": lambda: sign(claims(iss="https://evil.example")),
    "wrong audience": lambda: sign(claims(aud="someone-else")),
    "two audiences": lambda: sign(claims(aud=[AUDIENCE, "someone-else"])),
    "wrong required claim": lambda: sign(claims(repository="evil/octo-repo")),
    "pull_request_target": lambda: sign(claims(event_name="pull_request_target")),
    "expired": lambda: sign(claims(iat=int(time.time()) - 400, exp=int(time.time()) - 120)),
    "not yet valid": lambda: sign(claims(nbf=int(time.time()) + 600)),
    "no exp": lambda: sign(claims(exp=None)),
    "exp a string": lambda: sign(claims(exp=str(int(time.time()) + 300))),
    "no jti": lambda: sign(claims(jti=None)),
    "no kid": lambda: sign(claims(), kid=""),
    "alg none": lambda: unsigned(claims()),
    "HS256 keyed with the public key": lambda: hs256_with_public_key(claims()),
    "forged under the issuer's kid": lambda: sign(claims(), key=ATTACKER),
    "unknown kid": lambda: sign(claims(), kid="k9"),
    "over 8 KB": lambda: sign(claims(padding="x" * 8192)),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.usefixtures("policy")
@pytest.mark.parametrize("case", REFUSED_TOKENS)
async def test_an_untrusted_token_is_refused_alike_and_records_nothing(
    anonymous: httpx.AsyncClient, services: Services, issuer: FakeIssuer, case: str
) -> None:
    before = await last_seq(services)
    assert ok(await exchange(anonymous, REFUSED_TOKENS[case]()), 401).items() >= REFUSED
    assert await last_seq(services) == before
    if case in {"wrong issuer", "wrong audience", "two audiences", "alg none", "no kid"}:
        assert issuer.requests == []  # refused before any request left JetDeck (SSRF)


@pytest.mark.usefixtures("policy")
@pytest.mark.parametrize("settings", [FAST_REFETCH], indirect=True)
async def test_an_unknown_kid_refetches_the_keys_once_and_is_still_refused(
    anonymous: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    ok(await exchange(anonymous, sign(claims())))
    assert issuer.key_fetches == 1
    ok(await exchange(anonymous, sign(claims(), kid="rotated")), 401)
    assert issuer.key_fetches == 2


@pytest.mark.usefixtures("policy")
async def test_a_flood_of_unknown_kids_fetches_no_more_keys(
    anonymous: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    ok(await exchange(anonymous, sign(claims())))
    for n in range(20):
        ok(await exchange(anonymous, sign(claims(), kid=f"made-up-{n}")), 401)
    assert issuer.key_fetches == 1


@pytest.mark.usefixtures("policy")
async def test_a_token_is_exchanged_once(anonymous: httpx.AsyncClient, services: Services) -> None:
    token = sign(claims())
    ok(await exchange(anonymous, token))
    assert ok(await exchange(anonymous, token), 401).items() >= REFUSED
    racing = sign(claims())
    answers = await asyncio.gather(*(exchange(anonymous, racing) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 401]


@pytest.mark.parametrize("action", ["change", "delete"])
async def test_changing_or_deleting_a_policy_voids_its_registrations(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    policy: dict[str, Any],
    action: str,
) -> None:
    registration = ok(await exchange(anonymous, sign(claims())))["access_token"]
    path = f"{POLICIES}/{policy['policy_id']}"
    if action == "change":
        ok(await client.put(path, json=POLICY | {"name": "renamed"}))
    else:
        ok(await client.delete(path))
    assert ok(await register(anonymous, registration, "linux"), 401).items() >= REFUSED


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            "grant_type=password&subject_token=x&subject_token_type=urn:ietf:params:oauth:token-type:jwt",
            None,
        ),
        ("subject_token=x", None),
        ("grant_type=a&grant_type=b", None),
        ('{"subject_token": "x"}', "application/json"),
    ],
    ids=["wrong grant type", "missing fields", "repeated field", "json"],
)
async def test_a_malformed_form_is_422_with_the_usual_error_body(
    anonymous: httpx.AsyncClient, body: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type or "application/x-www-form-urlencoded"}
    answer = ok(await anonymous.post(TOKEN, content=body, headers=headers), 422)
    assert answer["error"] == "validation_error"
    assert answer["errors"]


async def test_the_reference_agent_registers_through_workload_identity(
    app: FastAPI, policy: dict[str, Any]
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with AsyncJetDeck("http://jetdeck", transport=transport) as client:
        agent = AgentApi(client)
        registration = await agent.exchange(sign(claims()))
        host = HostInfo.model_validate(HOST)
        found = await agent.register(registration, "wif-agent", host, pool=policy["pool"])
        assert found.token.startswith("jdagt_")
        assert await agent.heartbeat(Load(1.0, 1.0, 1.0), []) == []


async def test_an_idempotency_key_under_one_registrar_never_answers_for_another(
    anonymous: httpx.AsyncClient, services: Services, policy: dict[str, Any]
) -> None:
    """A grant's holder reusing a key the shared-token holder used gets an agent of its own."""
    body = {"name": "a", "pool": "default", "host": HOST}
    key = {"Idempotency-Key": "k1"}
    shared = bearer(services.settings.registration_token.get_secret_value())
    first = ok(await anonymous.post(f"{AGENTS}/register", json=body, headers=shared | key), 201)
    grant = ok(await exchange(anonymous, sign(claims())))["access_token"]
    mine = body | {"pool": policy["pool"]}
    second = await anonymous.post(f"{AGENTS}/register", json=mine, headers=bearer(grant) | key)
    assert ok(second, 201)["agent_id"] != first["agent_id"]
    agent_id = second.json()["agent_id"]
    [registered] = await load_history(services.store, "agent", UUID(agent_id))
    assert registered.cause.actor == f"agent:{agent_id}"
    assert registered.cause.command_id.startswith(f"system:trust-policy:{policy['policy_id']}:")
