"""The served OpenAPI document is the contract: it declares every error an operation can answer
with, every list answers one envelope, every error is a problem+json body, and the committed copy
is what is served."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from fastapi import FastAPI

from api.examples import EXAMPLES
from api.openapi import dump
from tests.api.conftest import http_client
from tests.api.helpers import DEPLOYMENTS, JOB, JOBS, create_deployment, create_job, ok
from wire.problems import PROBLEM_JSON, TYPE_PREFIX, Problem

OPENAPI = "/api/openapi.json"
COPY = Path(__file__).parents[2] / "docs" / "openapi.json"
REGENERATE = "python -m api.openapi > docs/openapi.json"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "error"}
Operation = tuple[str, str, dict[str, Any]]


def operations(doc: dict[str, Any]) -> Iterator[Operation]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def resolved(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a body has: followed through `$ref`, and through `anyOf` for an optional
    body (a model or null)."""
    refs = [s for s in schema.get("anyOf", [schema]) if "$ref" in s]
    if not refs:
        return schema
    return dict(doc["components"]["schemas"][refs[0]["$ref"].rsplit("/", 1)[1]])


def answer(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A response object, followed through its `$ref` to a shared one."""
    if "$ref" not in response:
        return response
    return dict(doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]])


def expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[str]:
    """What the issue's contract asks of each operation, from its shape alone."""
    codes = {"503"}
    if operation.get("parameters") or "requestBody" in operation:
        codes.add("422")
    if "requestBody" in operation:
        codes.add("413")
    if "security" in operation:
        codes |= {"401", "403"}
    if "{" in path:
        codes.add("404")
    if method != "get":
        codes.add("409")
    return codes


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    doc: dict[str, Any] = ok(await client.get(OPENAPI))
    return doc


HEALTH_BODIES = {("get", "/api/health"), ("get", "/api/health/ready")}
"""Their 503 is a health report for probes and operators, not a problem."""


async def test_every_operation_declares_its_errors_as_problems(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        missing = expected_errors(method, path, operation) - set(responses)
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
        for code, response in responses.items():
            if int(code) >= 400 and (method, path) not in HEALTH_BODIES:
                content = answer(document, response)["content"]
                assert set(content) == {PROBLEM_JSON}, (method, path, code)


def bodies(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON body an operation takes or answers with: where, and its media object."""
    for method, path, operation in operations(doc):
        request = operation.get("requestBody", {}).get("content", {})
        answers = [answer(doc, r).get("content", {}) for r in operation["responses"].values()]
        for content in [request, *answers]:
            for media_type, media in content.items():
                if "json" in media_type or media_type.endswith("form-urlencoded"):
                    yield f"{method.upper()} {path} {media_type}", media


async def test_every_body_has_an_example(document: dict[str, Any]) -> None:
    for where, media in bodies(document):
        schema = resolved(document, media["schema"])
        assert "example" in media or schema.get("examples"), f"{where} has no example"


def test_every_example_is_valid_for_its_model() -> None:
    for model, example in EXAMPLES.items():
        model.model_validate(example)


async def test_the_complete_bodies_name_only_final_statuses(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    dashboard = schemas["JobComplete"]["properties"]["status"]
    agent = schemas["CompleteRequest"]["properties"]["status"]["anyOf"][0]
    assert sorted(dashboard["enum"]) == ["cancelled", "error", "failed", "success", "timeout"]
    assert sorted(agent["enum"]) == ["error", "failed", "success", "timeout"]


async def test_the_served_document_is_the_committed_copy(document: dict[str, Any]) -> None:
    served, committed = dump(document), COPY.read_text()
    diff = difflib.unified_diff(
        committed.splitlines(), served.splitlines(), "committed", "served", lineterm=""
    )
    shown = "\n".join(list(diff)[:80])
    assert served == committed, (
        f"The API contract changed. If that is intended, regenerate the copy with "
        f"`{REGENERATE}` and commit it with the change.\n{shown}"
    )


# --- every list answers {items, next_cursor} ------------------------------------------------


def lists(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each GET answering a collection, with its 200 schema."""
    for method, path, operation in operations(doc):
        media = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if method == "get" and media:
            schema = resolved(doc, media["schema"])
            if schema.get("type") == "array" or "items" in schema.get("properties", {}):
                yield path, operation


async def test_no_list_answers_a_bare_array_and_each_takes_limit_and_cursor(
    document: dict[str, Any],
) -> None:
    found = list(lists(document))
    assert len(found) >= 12
    for path, operation in found:
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert set(resolved(document, schema)["properties"]) == {"items", "next_cursor"}, path
        assert {"limit", "cursor"} <= {p["name"] for p in operation["parameters"]}, path


async def test_every_list_answers_the_envelope(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    job = await create_job(client)
    await create_job(client)
    deployment = await create_deployment(client)
    filled = {"job_id": job["job_id"], "service_name": "api-backend"}
    for path, _ in lists(document):
        url = path.format(**filled)
        page = ok(await client.get(url, params={"limit": 1, "min_seq": deployment["seq"]}))
        assert set(page) == {"items", "next_cursor"}, url
        assert isinstance(page["items"], list), url
        assert len(page["items"]) <= 1, url
    jobs = ok(await client.get(JOBS, params={"limit": 1}))
    assert jobs["next_cursor"] is not None


# --- every error is a problem ---------------------------------------------------------------


def problem(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """The body of an error answer, checked against RFC 9457 and JetDeck's code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_MEMBERS
    assert (body["status"], body["error"]) == (status, error)
    assert body["type"] == TYPE_PREFIX + error
    assert body["instance"] == response.request.url.path
    assert isinstance(body["detail"], str)
    assert body["detail"]
    Problem.model_validate(body)
    return body


async def test_routing_errors_are_problems(client: httpx.AsyncClient) -> None:
    problem(await client.get("/api/nothing"), 404, "not_found")
    refused = await client.delete(JOBS)
    problem(refused, 405, "method_not_allowed")
    assert set(refused.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_a_domain_404_is_a_problem(client: httpx.AsyncClient) -> None:
    body = problem(await client.get(f"{JOBS}/{uuid4()}"), 404, "not_found")
    assert "not found" in body["detail"]


async def test_a_422_names_each_bad_field(client: httpx.AsyncClient) -> None:
    bad = JOB | {"git_commit_sha": "not a sha"}
    del bad["job_type"]
    body = problem(await client.post(JOBS, json=bad), 422, "validation_error")
    assert {tuple(e["loc"]) for e in body["errors"]} == {
        ("body", "job_type"),
        ("body", "git_commit_sha"),
    }
    assert "body.job_type" in body["detail"]


async def test_a_domain_422_has_errors_too(client: httpx.AsyncClient) -> None:
    token = {"name": "ci", "roles": ["viewer"]}
    ok(await client.post("/api/auth/tokens", json=token), 201)
    body = problem(await client.post("/api/auth/tokens", json=token), 422, "validation_error")
    assert body["errors"] == [{"loc": [], "msg": body["detail"], "type": "validation_error"}]


async def test_auth_refusals_are_problems(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with http_client(app, token=None) as anonymous:
        refused = await anonymous.get(JOBS)
    problem(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"].startswith("Bearer")
    viewer = ok(await client.post("/api/auth/tokens", json={"name": "v", "roles": ["viewer"]}), 201)
    async with http_client(app, token=viewer["token"]) as reader:
        body = problem(await reader.post(JOBS, json=JOB), 403, "forbidden")
    assert "report" in body["detail"]


async def test_conflicts_are_problems_naming_what_they_conflict_with(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await create_job(client))["job_id"]
    done = {"status": "success"}
    first = ok(await client.patch(f"{JOBS}/{job_id}/start", json={}))
    ok(await client.patch(f"{JOBS}/{job_id}/complete", json=done))
    again = await client.patch(f"{JOBS}/{job_id}/start", json={})
    assert problem(again, 409, "invalid_transition")["current_status"] == "success"
    beyond = await client.get(DEPLOYMENTS, params={"min_seq": first["seq"] + 10_000})
    assert problem(beyond, 409, "beyond_log")["last_seq"] >= first["seq"]


@pytest.mark.parametrize("settings", [{"max_body_bytes": 1024}], indirect=True)
async def test_a_body_over_the_limit_is_a_problem(client: httpx.AsyncClient) -> None:
    oversized = orjson.dumps(JOB | {"git_commit_message": "x" * 2000})
    headers = {"content-type": "application/json"}
    body = problem(
        await client.post(JOBS, content=oversized, headers=headers), 413, "content_too_large"
    )
    assert "1024 bytes" in body["detail"]
