"""Every route of the served OpenAPI document x every kind of caller: the expected answer, and
nothing appended by a refused call.

The table below is written by hand, independently of the routes' own declarations; the first
test proves it names exactly the operations the document serves, so a new route without an entry
fails here until someone decides who may call it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from domain.identity import ROLE_PERMISSIONS, Permission, Role
from domain.recorded import Cause
from infra.access import sha256
from infra.services import Services
from tests.api.conftest import http_client
from tests.api.helpers import DEPLOYMENT, ok
from tests.queue_helpers import http_agent

READ, REPORT, DEPLOY = Permission.READ, Permission.REPORT, Permission.DEPLOY
OPERATE, ADMIN, AGENT = Permission.OPERATE, Permission.ADMIN, Permission.AGENT
PUBLIC = "public"
REGISTRATION = "registration token"
SESSION = "a login session (its own tests hold one; no caller here does)"

WHO_MAY: dict[str, object] = {
    "POST /api/dashboard/jobs": REPORT,
    "GET /api/dashboard/jobs": READ,
    "GET /api/dashboard/jobs/running": READ,
    "GET /api/dashboard/jobs/{job_id}": READ,
    "PATCH /api/dashboard/jobs/{job_id}/start": REPORT,
    "PATCH /api/dashboard/jobs/{job_id}/complete": REPORT,
    "GET /api/dashboard/jobs/{job_id}/logs": READ,
    "POST /api/dashboard/deployments": REPORT,
    "GET /api/dashboard/deployments": READ,
    "GET /api/dashboard/deployments/service/{service_name}": READ,
    "GET /api/dashboard/deployments/{deployment_id}": READ,
    "POST /api/dashboard/deployments/{deployment_id}/rollback": DEPLOY,
    "POST /api/dashboard/deployments/{deployment_id}/staging": REPORT,
    "POST /api/dashboard/deployments/{deployment_id}/production": DEPLOY,
    "GET /api/dashboard/summary": READ,
    "GET /api/dashboard/metrics/dora": READ,
    "POST /api/queue/jobs": OPERATE,
    "POST /api/queue/jobs:batch": OPERATE,
    "POST /api/queue/claim": AGENT,
    "POST /api/queue/claims": AGENT,
    "POST /api/queue/jobs/{job_id}/start": AGENT,
    "POST /api/queue/jobs/{job_id}/heartbeat": AGENT,
    "POST /api/queue/jobs/{job_id}/complete": AGENT,
    "POST /api/queue/jobs/{job_id}/fail": AGENT,
    "POST /api/queue/jobs/{job_id}/release": AGENT,
    "POST /api/queue/jobs/{job_id}/logs": AGENT,
    "POST /api/queue/jobs/{job_id}/cancel": OPERATE,
    "GET /api/queue/jobs/{job_id}/why": READ,
    "GET /api/queue/stats": READ,
    "GET /api/queue/dead-letters": READ,
    "POST /api/queue/dead-letters/{job_id}/retry": OPERATE,
    "POST /api/queue/pools/{pool}/pause": OPERATE,
    "POST /api/queue/pools/{pool}/resume": OPERATE,
    "POST /api/agents/register": REGISTRATION,
    "GET /api/agents": READ,
    "GET /api/agents/health": READ,
    "GET /api/agents/{agent_id}": READ,
    "GET /api/agents/{agent_id}/jobs": READ,
    "POST /api/agents/{own_agent_id}/heartbeat": AGENT,
    "POST /api/agents/{own_agent_id}/deregister": AGENT,
    "POST /api/agents/{agent_id}/drain": OPERATE,
    "POST /api/agents/{agent_id}/resume": OPERATE,
    "DELETE /api/agents/{agent_id}": OPERATE,
    "POST /api/pools": OPERATE,
    "GET /api/pools": READ,
    "GET /api/pools/{pool}": READ,
    "GET /api/pools/{pool}/scaling": READ,
    "GET /api/audit/{aggregate}/{aggregate_id}": READ,
    "GET /api/audit/quarantine": READ,
    "GET /api/events/asyncapi.json": READ,
    "POST /api/auth/tokens": ADMIN,
    "GET /api/auth/tokens": ADMIN,
    "DELETE /api/auth/tokens/{token_id}": ADMIN,
    "GET /api/auth/users": ADMIN,
    "GET /api/auth/users/{principal}/roles": ADMIN,
    "POST /api/auth/users/{principal}/roles": ADMIN,
    "DELETE /api/auth/users/{principal}/roles/{role}": ADMIN,
    "POST /api/auth/trust-policies": ADMIN,
    "GET /api/auth/trust-policies": ADMIN,
    "GET /api/auth/trust-policies/{policy_id}": ADMIN,
    "PUT /api/auth/trust-policies/{policy_id}": ADMIN,
    "DELETE /api/auth/trust-policies/{policy_id}": ADMIN,
    "GET /api/auth/session": SESSION,
    "DELETE /api/auth/session": SESSION,
    "POST /api/auth/session/refresh": SESSION,
    "POST /api/auth/token": PUBLIC,
    "GET /api/auth/providers": PUBLIC,
    "GET /api/auth/login/{provider}": PUBLIC,
    "GET /api/auth/callback/{provider}": PUBLIC,
    "GET /api/health": PUBLIC,
    "GET /api/health/live": PUBLIC,
    "GET /api/health/ready": PUBLIC,
    "GET /metrics": READ,
}
GARBAGE = {
    "garbage": "jdsvc_not-a-real-token",
    "garbage agent token": "jdagt_bm90.c2lnbmVk",
    "garbage session": "jdses_not-a-session",
    "garbage registration": "jdreg_bm90.c2lnbmVk",
    "unprefixed": "admin",
}
REFUSED_CREDENTIALS = ("none", *GARBAGE, "expired", "revoked")
ROLE_CALLERS = {
    "viewer": Role.VIEWER,
    "reporter": Role.REPORTER,
    "deployer": Role.DEPLOYER,
    "operator": Role.OPERATOR,
    "admin": Role.ADMIN,
}
CALLERS = (*REFUSED_CREDENTIALS, *ROLE_CALLERS, "other service's deployer", "agent")
SERVICE = DEPLOYMENT["service_name"]
BODIES: dict[str, Any] = {
    "POST /api/dashboard/deployments": DEPLOYMENT,
    "POST /api/dashboard/deployments/{deployment_id}/rollback": {"reason": "matrix"},
    "POST /api/dashboard/deployments/{deployment_id}/staging": {"outcome": "started"},
    "POST /api/dashboard/deployments/{deployment_id}/production": {"outcome": "started"},
    # Too long a reason, on purpose: a valid one would end the agent the whole table calls as.
    "POST /api/agents/{own_agent_id}/deregister": {"reason": "x" * 10_001},
}
"""Valid bodies where the refusal comes from what the body names: the deployment's service."""


def served_operations(app: FastAPI) -> set[str]:
    """`METHOD path` of every operation, the stage route spelled out per environment."""
    found = set()
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if path in ("/api/agents/{agent_id}/heartbeat", "/api/agents/{agent_id}/deregister"):
                path = path.replace("{agent_id}", "{own_agent_id}")
            if path.endswith("/{environment}"):
                stem = path.removesuffix("/{environment}")
                found |= {f"{method.upper()} {stem}/staging", f"{method.upper()} {stem}/production"}
            else:
                found.add(f"{method.upper()} {path}")
    return found


async def test_the_table_names_exactly_the_served_operations(app: FastAPI) -> None:
    assert served_operations(app) == set(WHO_MAY)


async def test_every_protected_operation_declares_its_security_and_refusals(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            key = f"{method.upper()} {path}"
            if WHO_MAY.get(key) == PUBLIC:
                continue
            assert operation.get("security"), key
            assert {"401", "403"} <= set(operation["responses"]), key


class Callers:
    """A token for every kind of caller, made through the services as an admin would."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.tokens: dict[str, str | None] = {"none": None, **GARBAGE}

    async def service(self, name: str, roles: set[Role], **options: Any) -> str:
        issued = await self.services.access.issue(
            _cause(), uuid4(), name, frozenset(roles), options.get("services"), options.get("exp")
        )
        result, secret = issued
        await self.services.runner.wait_for(result.seq, 5)
        return secret

    async def make(self, agent_token: str) -> dict[str, str | None]:
        for name, role in ROLE_CALLERS.items():
            self.tokens[name] = await self.service(name, {role})
        past = datetime.now(UTC) - timedelta(hours=1)
        self.tokens["expired"] = await self.service("expired", {Role.ADMIN}, exp=past)
        revoked = await self.service("revoked", {Role.ADMIN})
        token_id = UUID(self.services.views.access.by_hash[sha256(revoked)])
        result = await self.services.access.revoke(_cause(), token_id, "test")
        await self.services.runner.wait_for(result.seq, 5)
        self.tokens["revoked"] = revoked
        scoped = {"services": frozenset({"other-service"})}
        self.tokens["other service's deployer"] = await self.service(
            "other-deployer", {Role.DEPLOYER}, **scoped
        )
        self.tokens["agent"] = agent_token
        return self.tokens


def _cause() -> Cause:
    command_id = uuid4().hex
    return Cause("system:test", command_id, "test", command_id)


@pytest.fixture
async def world(client: httpx.AsyncClient, services: Services) -> Any:
    agent = await http_agent(client, "matrix-agent")
    target = await http_agent(client, "operated-on")
    deployment = ok(await client.post("/api/dashboard/deployments", json=DEPLOYMENT), 201)
    tokens = await Callers(services).make(agent.agent_token)
    values = {
        "job_id": str(uuid4()),
        "deployment_id": deployment["deployment_id"],
        "service_name": SERVICE,
        "agent_id": target.agent_id,
        "own_agent_id": agent.agent_id,
        "pool": "matrix",
        "aggregate": "job",
        "aggregate_id": str(uuid4()),
        "token_id": str(uuid4()),
        "principal": "user:someone@example.com",
        "role": "viewer",
        "policy_id": str(uuid4()),
        "provider": "nowhere",
    }
    return tokens, values


def expected(rule: object, caller: str, key: str) -> str:
    """`refused:<code>` or `let in` (any answer but 401 and 403)."""
    if rule == PUBLIC:
        return "let in"
    if rule in (REGISTRATION, SESSION) or caller in REFUSED_CREDENTIALS:
        return "refused:401"
    assert isinstance(rule, Permission)
    held = {
        "agent": {AGENT},
        "other service's deployer": {READ, REPORT, DEPLOY},
    }.get(caller) or _role_permissions(caller)
    if rule not in held:
        return "refused:403"
    touches_our_service = key in BODIES
    if caller == "other service's deployer" and touches_our_service:
        return "refused:403"
    return "let in"


def _role_permissions(caller: str) -> set[Permission]:
    return set(ROLE_PERMISSIONS[ROLE_CALLERS[caller]])


async def last_seq(services: Services) -> int:
    return (await services.stream_state()).last_seq


async def test_every_route_answers_every_caller_as_the_table_says(
    app: FastAPI, services: Services, world: Any
) -> None:
    tokens, values = world
    wrong: list[str] = []
    for key, rule in sorted(WHO_MAY.items()):
        method, template = key.split(" ")
        path = template.format(**values)
        for caller in CALLERS:
            want = expected(rule, caller, key)
            before = await last_seq(services)
            async with http_client(app, raise_app_exceptions=False, token=tokens[caller]) as c:
                body = None if method in ("GET", "DELETE") else BODIES.get(key, {})
                response = await c.request(method, path, json=body, follow_redirects=False)
            got = response.status_code
            if want == "let in" and got in (401, 403):
                wrong.append(f"{key} as {caller}: {got} {response.text[:120]}")
            if want.startswith("refused"):
                if got != int(want.split(":")[1]):
                    wrong.append(f"{key} as {caller}: {got}, wanted {want}")
                elif await last_seq(services) != before:
                    wrong.append(f"{key} as {caller}: refused but appended")
            if got >= 500:
                wrong.append(f"{key} as {caller}: {got} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


async def test_every_refusal_answers_with_the_same_body_whatever_was_wrong(
    app: FastAPI, world: Any
) -> None:
    tokens, _ = world
    bodies = set()
    for caller in REFUSED_CREDENTIALS:
        async with http_client(app, token=tokens[caller]) as c:
            response = await c.post("/api/dashboard/jobs", json={})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        bodies.add(response.text)
    assert len(bodies) == 1, bodies
