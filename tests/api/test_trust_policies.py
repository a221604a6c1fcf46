"""Trust policy administration: only admins change them, and every change names its admin."""

from __future__ import annotations

from uuid import uuid4

import httpx
from fastapi import FastAPI

from domain.identity import Role
from domain.recorded import Cause
from infra.services import Services
from tests.api.conftest import http_client
from tests.api.helpers import SEQ, ok
from tests.api.test_workload_identity import POLICIES, POLICY

ADMIN = "service:admin"


async def test_an_admin_creates_changes_and_deletes_a_policy_on_the_record(
    client: httpx.AsyncClient,
) -> None:
    created = ok(await client.post(POLICIES, json=POLICY), 201)
    path = f"{POLICIES}/{created['policy_id']}"
    assert created | {"policy_id": "", "created_at": "", "changed_at": ""} == POLICY | {
        "policy_id": "",
        "created_at": "",
        "changed_at": "",
        "created_by": ADMIN,
        "changed_by": ADMIN,
        "last_seq": created["last_seq"],
    }
    changed = ok(await client.put(path, json=POLICY | {"pool": "arm"}))
    assert changed["pool"] == "arm"
    assert ok(await client.get(POLICIES)) == {"items": [changed], "next_cursor": None}
    assert ok(await client.get(path)) == changed
    deleted = await client.delete(path)
    assert ok(deleted)["seq"] == int(deleted.headers[SEQ])
    ok(await client.get(path), 404)
    assert ok(await client.get(POLICIES)) == {"items": [], "next_cursor": None}
    trail = ok(await client.get(f"/api/audit/trust/{created['policy_id']}"))
    assert [(e["type"], e["actor"]) for e in trail["events"]] == [
        ("trust.Created", ADMIN),
        ("trust.Changed", ADMIN),
        ("trust.Deleted", ADMIN),
    ]
    assert trail["chain_valid"]


async def test_an_unknown_or_deleted_policy_is_not_found_or_refused(
    client: httpx.AsyncClient,
) -> None:
    ok(await client.put(f"{POLICIES}/{uuid4()}", json=POLICY), 404)
    ok(await client.delete(f"{POLICIES}/{uuid4()}"), 404)
    path = f"{POLICIES}/{ok(await client.post(POLICIES, json=POLICY), 201)['policy_id']}"
    ok(await client.delete(path))
    ok(await client.delete(path))  # deleting again records nothing
    ok(await client.put(path, json=POLICY), 409)


async def test_a_policy_that_would_admit_any_repository_is_refused(
    client: httpx.AsyncClient,
) -> None:
    ok(await client.post(POLICIES, json=POLICY | {"claims": {}}), 422)
    ok(await client.post(POLICIES, json=POLICY | {"issuer": "http://insecure.example"}), 422)


async def test_an_operator_may_not_touch_trust_policies(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    path = f"{POLICIES}/{ok(await client.post(POLICIES, json=POLICY), 201)['policy_id']}"
    cause = Cause(ADMIN, uuid4().hex, "token.issue", "test")
    issued, secret = await services.access.issue(
        cause, uuid4(), "ops", frozenset({Role.OPERATOR}), None, None
    )
    await services.runner.wait_for(issued.seq, 5)
    async with http_client(app, token=secret) as operator:
        answers = [
            await operator.post(POLICIES, json=POLICY),
            await operator.get(POLICIES),
            await operator.get(path),
            await operator.put(path, json=POLICY),
            await operator.delete(path),
        ]
    assert [a.status_code for a in answers] == [403] * 5
