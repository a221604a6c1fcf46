"""The served OpenAPI document, completed: each operation's security requirement, from the
dependencies it runs (`api.auth.requirement_of`); its error answers as problem+json, by rules
that follow from what the operation takes; and an example for every body.

`python -m api.openapi > docs/openapi.json` writes the copy the contract test compares with.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts

from api.auth import PROTECTED, SCHEMES, Requirement, requirement_of
from api.examples import by_title
from wire.problems import PROBLEM_JSON, FieldError, Problem

REF = "#/components/schemas/"
PROBLEM_REF = {"$ref": f"{REF}{Problem.__name__}"}
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
WRITES = frozenset({"post", "put", "patch", "delete"})
FASTAPI_422 = ("HTTPValidationError", "ValidationError", "Validation Error")
"""FastAPI's own 422 schemas and description, which the shared 422 answer replaces."""

SHARED: dict[int, tuple[str, str]] = {
    401: ("Unauthorized", PROTECTED[401]["description"]),
    403: ("Forbidden", PROTECTED[403]["description"]),
    404: ("NotFound", "No such resource (an id in the path names nothing), or no such route."),
    409: (
        "Conflict",
        "A transition the resource's status forbids (`current_status` names it), a lost race, "
        "or a `min_seq` beyond the log (`last_seq` names its end).",
    ),
    413: ("ContentTooLarge", "The request body is larger than the server takes."),
    422: ("InvalidInput", "Invalid input: `errors` names each bad field."),
    503: (
        "Unavailable",
        "NATS or a read model cannot answer in time; retry after `Retry-After` seconds.",
    ),
}
"""The error answers operations share, declared once under `components/responses`."""


def applicable(method: str, operation: dict[str, Any]) -> list[int]:
    """The errors an operation can answer with, beyond the 401/403 of its security: 404 for an
    id in its path, 409 for a write or a read after a sequence, 413 for a body, 422 for any
    input, 503 always (every answer needs NATS or the read models)."""
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    codes = [503]
    if any(p["in"] == "path" for p in params):
        codes.append(404)
    if method in WRITES or any(p["name"] == "min_seq" for p in params):
        codes.append(409)
    if body:
        codes.append(413)
    if params or body:
        codes.append(422)
    return sorted(codes)


Security = dict[tuple[str, str], list[Requirement]]
"""Each operation's security requirements, by path and method."""


def security(app: FastAPI) -> Security:
    """Each operation's security requirements."""
    found: Security = {}
    for route in iter_route_contexts(app.routes):  # as included, with their routers' dependencies
        path = route.path_format
        if isinstance(route.original_route, APIRoute) and route.include_in_schema and path:
            needs = _requirements(route.dependant)
            found.update({(path, method.lower()): needs for method in route.methods or ()})
    return found


def _requirements(dependant: Dependant) -> list[Requirement]:
    """What the dependencies ask of the caller: per scheme, every scope any of them needs."""
    merged: Requirement = {}
    for sub in _dependants(dependant):
        for scheme, scopes in requirement_of(sub.call).items():
            have = merged.setdefault(scheme, [])
            have.extend(s for s in scopes if s not in have)
    return [{scheme: scopes} for scheme, scopes in merged.items()]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def complete(doc: dict[str, Any], needs: Security) -> dict[str, Any]:
    """Idempotent: FastAPI keeps the document it made, and this runs on each serving of it."""
    components = doc.setdefault("components", {})
    components["securitySchemes"] = {
        name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for name, scheme in SCHEMES.items()
    }
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            operation.pop("security", None)
            if needs.get((path, method)):
                operation["security"] = needs[(path, method)]
    schemas = components.setdefault("schemas", {})
    for model in (Problem, FieldError):
        schemas[model.__name__] = model.model_json_schema(ref_template=REF + "{model}")
    components["responses"] = {
        name: {"description": text, "content": PROBLEM_CONTENT} for name, text in SHARED.values()
    }
    for method, operation in _operations(doc):
        responses = operation["responses"]
        for code in applicable(method, operation):
            responses.setdefault(str(code), _shared(code))
        for code, response in responses.items():
            if "$ref" not in response and int(code) >= 400 and _is_problem(response, code):
                responses[code] = _problem(int(code), response)
    for name in FASTAPI_422:
        schemas.pop(name, None)
    _add_examples(doc, schemas)
    return doc


def _shared(code: int) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{SHARED[code][0]}"}


def _problem(code: int, response: dict[str, Any]) -> dict[str, Any]:
    """The shared answer for the code, unless the route describes its own."""
    standard = SHARED.get(code, ("", ""))[1]
    if response["description"] in (standard, *FASTAPI_422):
        return _shared(code)
    return response | {"content": PROBLEM_CONTENT}


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in doc["paths"].values():
        yield from item.items()


def _is_problem(response: dict[str, Any], code: str) -> bool:
    """Error answers are problems, but for one declared with a body of its own (the health
    check's 503 is its report)."""
    content = response.get("content", {})
    refs = {media.get("schema", {}).get("$ref") for media in content.values()}
    return code == "422" or refs <= {PROBLEM_REF["$ref"]}


def _add_examples(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Each model's example, on its schema wherever it stands (components, or inline as the
    token exchange's form does), found by the schema's title: the model's name."""
    examples = by_title()
    for schema in _schemas(doc, schemas):
        example = examples.get(schema.get("title", ""))
        if example is not None:
            schema["examples"] = [example]


def _schemas(doc: dict[str, Any], schemas: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from schemas.values()
    for _, operation in _operations(doc):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            yield media.get("schema", {})


def install(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def document() -> dict[str, Any]:
        return complete(generate(), security(app))

    app.openapi = document  # type: ignore[method-assign]


def dump(doc: dict[str, Any]) -> str:
    """The committed copy's form: sorted and indented, so a change reads as a small diff."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    from api.app import create_app

    sys.stdout.write(dump(create_app().openapi()))
