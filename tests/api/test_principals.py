"""The actor of every event is the credential that caused it; keys, tokens and roles belong to
their principal; service tokens reach only their services; agent tokens expire and renew."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from domain.identity import Principal
from infra.services import Services
from infra.settings import Settings
from infra.tokens import AgentIdentity
from tests.api.conftest import http_client
from tests.api.helpers import DEPLOYMENT, DEPLOYMENTS, JOB, JOBS, create_job, message_count, ok
from tests.queue_helpers import http_agent

TOKENS = "/api/auth/tokens"


async def issue(client: httpx.AsyncClient, name: str, *roles: str, **fields: Any) -> Any:
    return ok(await client.post(TOKENS, json={"name": name, "roles": list(roles)} | fields), 201)


async def audit_actors(client: httpx.AsyncClient, kind: str, aggregate_id: str) -> list[str]:
    trail = ok(await client.get(f"/api/audit/{kind}/{aggregate_id}"))
    return [event["actor"] for event in trail["events"]]


async def test_a_service_tokens_events_name_the_service_in_the_audit_and_the_histories(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ci = (await issue(client, "ci-reporter", "reporter"))["token"]
    release = (await issue(client, "release-bot", "deployer"))["token"]
    async with http_client(app, token=ci) as as_ci, http_client(app, token=release) as as_rel:
        job = await create_job(as_ci)
        created = ok(await as_ci.post(DEPLOYMENTS, json=DEPLOYMENT), 201)
        path = f"{DEPLOYMENTS}/{created['deployment_id']}"
        ok(await as_ci.post(f"{path}/staging", json={"outcome": "succeeded"}))
        live = ok(await as_rel.post(f"{path}/production", json={"outcome": "succeeded"}))
    assert await audit_actors(client, "job", job["job_id"]) == ["service:ci-reporter"]
    job_view = ok(await client.get(f"{JOBS}/{job['job_id']}", params={"min_seq": job["seq"]}))
    assert [h["actor"] for h in job_view["history"]] == ["service:ci-reporter"]
    actors = await audit_actors(client, "deployment", created["deployment_id"])
    # a stage reported as succeeded straight away records its start too
    assert actors == ["service:ci-reporter"] * 3 + ["service:release-bot"] * 2
    view = ok(await client.get(path, params={"min_seq": live["seq"]}))
    assert [h["actor"] for h in view["history"]] == actors


async def test_the_same_idempotency_key_from_two_principals_names_two_commands(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    mallory = (await issue(client, "mallory", "reporter"))["token"]
    builder = (await issue(client, "builder", "reporter"))["token"]
    key = {"Idempotency-Key": "build-4242"}
    async with http_client(app, token=mallory) as squatter, http_client(app, token=builder) as own:
        squatted = ok(await squatter.post(JOBS, json=JOB | {"job_type": "evil"}, headers=key), 201)
        mine = ok(await own.post(JOBS, json=JOB, headers=key), 201)
        retried = ok(await own.post(JOBS, json=JOB, headers=key), 201)
    assert mine["job_id"] != squatted["job_id"]
    assert retried["job_id"] == mine["job_id"]
    view = ok(await client.get(f"{JOBS}/{mine['job_id']}", params={"min_seq": mine["seq"]}))
    assert view["job_type"] == JOB["job_type"]


async def test_a_token_limited_to_one_service_touches_only_its_deployments(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    theirs = ok(await client.post(DEPLOYMENTS, json=DEPLOYMENT | {"service_name": "billing"}), 201)
    token = (await issue(client, "backend-ci", "deployer", service_names=["api-backend"]))["token"]
    async with http_client(app, token=token) as scoped:
        created = ok(await scoped.post(DEPLOYMENTS, json=DEPLOYMENT), 201)
        mine = f"{DEPLOYMENTS}/{created['deployment_id']}"
        ok(await scoped.post(f"{mine}/staging", json={"outcome": "succeeded"}))
        ok(await scoped.post(f"{mine}/production", json={"outcome": "succeeded"}))
        before = await message_count(services)
        other = f"{DEPLOYMENTS}/{theirs['deployment_id']}"
        refused = [
            await scoped.post(DEPLOYMENTS, json=DEPLOYMENT | {"service_name": "billing"}),
            await scoped.post(f"{other}/staging", json={}),
            await scoped.post(f"{other}/rollback", json={"reason": "x"}),
        ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert all("billing" in r.json()["detail"] for r in refused)
    assert await message_count(services) == before


async def test_a_revoked_token_opens_nothing_at_once_and_its_secret_is_never_shown_again(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    issued = await issue(client, "short-lived", "viewer")
    listed = ok(await client.get(TOKENS))["items"]
    assert issued["token"] not in str(listed)
    assert issued["token"].startswith("jdsvc_")
    assert all("sha256" not in t and "token" not in t for t in listed)
    async with http_client(app, token=issued["token"]) as holder:
        ok(await holder.get(JOBS))
        revoked = ok(await client.request("DELETE", f"{TOKENS}/{issued['token_id']}"))
        assert revoked["revoked"] is True
        assert (await holder.get(JOBS)).status_code == 401


async def test_a_retried_token_issue_never_answers_a_secret_that_opens_nothing(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    key = {"Idempotency-Key": "issue-ci-token"}
    body = {"name": "ci", "roles": ["viewer"]}
    first = ok(await client.post(TOKENS, json=body, headers=key), 201)
    before = await message_count(services)
    retried = await client.post(TOKENS, json=body, headers=key)
    assert retried.status_code == 409, retried.text
    assert retried.json()["error"] == "secret_already_shown"
    assert await message_count(services) == before
    async with http_client(app, token=first["token"]) as holder:
        ok(await holder.get(JOBS))


async def test_roles_granted_and_revoked_are_audited_events(client: httpx.AsyncClient) -> None:
    user = "user:carol@example.com"
    granted = ok(await client.post(f"/api/auth/users/{user}/roles", json={"role": "deployer"}))
    assert granted["roles"] == ["deployer"]
    ok(await client.post(f"/api/auth/users/{user}/roles", json={"role": "viewer"}))
    after = ok(await client.request("DELETE", f"/api/auth/users/{user}/roles/deployer"))
    assert after["roles"] == ["viewer"]
    assert ok(await client.get(f"/api/auth/users/{user}/roles"))["roles"] == ["viewer"]
    assert {"principal": user, "roles": ["viewer"], "seq": None} in ok(
        await client.get("/api/auth/users")
    )["items"]


@pytest.mark.parametrize(
    "principal",
    [
        "carol@example.com",
        "agent:x",
        "service:ci",
        "user:",
        "root:admin",
        "user:carol smith@example.com",
        "user:" + "c" * 250 + "@example.com",
    ],
)
async def test_roles_go_only_to_users(client: httpx.AsyncClient, principal: str) -> None:
    """A service's roles are its token's; a role granted to `service:` would change nothing."""
    response = await client.post(f"/api/auth/users/{principal}/roles", json={"role": "admin"})
    assert response.status_code == 422, response.text


async def test_a_user_principal_is_spelled_one_way_so_a_revoke_undoes_the_grant(
    client: httpx.AsyncClient,
) -> None:
    spelled = "user:Alice@Example.COM%20"
    granted = ok(await client.post(f"/api/auth/users/{spelled}/roles", json={"role": "admin"}))
    assert (granted["principal"], granted["roles"]) == ("user:alice@example.com", ["admin"])
    revoked = ok(
        await client.request("DELETE", "/api/auth/users/user:ALICE@example.com/roles/admin")
    )
    assert revoked["roles"] == []
    assert ok(await client.get("/api/auth/users/user:alice@example.com/roles"))["roles"] == []


async def test_the_access_aggregates_audit_is_for_admins_and_never_shows_a_hash(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    issued = await issue(client, "ci-viewer", "viewer")
    trail = ok(await client.get(f"/api/audit/token/{issued['token_id']}"))
    assert "sha256" not in trail["events"][0]["data"]
    assert trail["events"][0]["data"]["name"] == "ci-viewer"
    async with http_client(app, token=issued["token"]) as viewer:
        refused = await viewer.get(f"/api/audit/token/{issued['token_id']}")
        assert refused.status_code == 403
        job = await create_job(client)
        ok(await viewer.get(f"/api/audit/job/{job['job_id']}"))


async def test_an_agent_token_renews_through_heartbeats_and_dies_with_deregistration(
    client: httpx.AsyncClient, services: Services
) -> None:
    agent = await http_agent(client, "renewing")
    first = services.signer.verify(agent.agent_token.removeprefix("jdagt_"), AgentIdentity)
    beat = {"cpu_pct": 1.0, "mem_pct": 1.0, "disk_pct": 1.0}
    answer = ok(await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat))
    renewed = services.signer.verify(answer["agent_token"].removeprefix("jdagt_"), AgentIdentity)
    assert renewed.agent_id == agent.agent_id
    assert renewed.expires_at > time.time() + services.settings.agent_token_ttl_s / 2
    assert first.expires_at > time.time()  # the first still works: a lost answer costs nothing
    agent.agent_token = answer["agent_token"]
    ok(await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat))
    ok(await client.request("DELETE", f"/api/agents/{agent.agent_id}"))
    for token in (agent.agent_token, answer["agent_token"]):
        agent.agent_token = token
        beaten = await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat)
        assert beaten.status_code == 401


async def test_an_expired_agent_token_opens_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    agent = await http_agent(client, "expiring")
    identity = services.signer.verify(agent.agent_token.removeprefix("jdagt_"), AgentIdentity)
    lapsed = identity.model_copy(update={"expires_at": time.time() - 1})
    agent.agent_token = "jdagt_" + services.signer.sign(lapsed)
    beat = {"cpu_pct": 1.0, "mem_pct": 1.0, "disk_pct": 1.0}
    assert (await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat)).status_code == 401


@pytest.mark.parametrize("settings", [{"anonymous_read": True}], indirect=True)
async def test_anonymous_reads_when_switched_on_but_never_writes(
    app: FastAPI, services: Services
) -> None:
    async with http_client(app, token=None) as anonymous:
        ok(await anonymous.get(JOBS))
        before = await message_count(services)
        assert (await anonymous.post(JOBS, json=JOB)).status_code == 401
        assert (await anonymous.post("/api/pools", json={"name": "p"})).status_code == 401
    assert await message_count(services) == before


async def test_reads_need_credentials_by_default(app: FastAPI) -> None:
    async with http_client(app, token=None) as anonymous:
        assert (await anonymous.get(JOBS)).status_code == 401
        assert (await anonymous.get("/api/health")).status_code == 200


def test_a_public_address_with_the_development_registration_token_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="JETDECK_REGISTRATION_TOKEN"):
        Settings(api_host="0.0.0.0")
    Settings(api_host="0.0.0.0", registration_token="a-secret-of-our-own-0123")
    Settings(api_host="::1")


def test_a_guessable_bootstrap_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="BOOTSTRAP_ADMIN_TOKEN"):
        Settings(bootstrap_admin_token="admin")


async def test_a_request_finds_its_caller_once_however_many_of_its_dependencies_ask(
    services: Services, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a job asks for the report permission and for the command's context, and each
    needs the caller; the token is checked once, and the event names that caller."""
    checked: list[str] = []
    principal = services.authn.principal

    async def counted(secret: str) -> Principal:
        checked.append(secret)
        return await principal(secret)

    monkeypatch.setattr(services.authn, "principal", counted)
    job = await create_job(client)
    assert len(checked) == 1
    assert await audit_actors(client, "job", job["job_id"]) == ["service:admin"]
