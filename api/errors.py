"""Our errors to HTTP answers, in one place: every error is an RFC 9457 problem (`type`, `title`,
`status`, `detail`, `instance`) with JetDeck's stable `error` code, as `application/problem+json`
(the body and each error's status and code: `wire.problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.idempotency import key_in_use
from domain.errors import (
    BeyondLogError,
    JetDeckError,
    OutcomeUnknownError,
    UnauthorizedError,
    UnavailableError,
)
from wire.problems import PROBLEM_JSON, TYPE_PREFIX, FieldError, Problem, status_and_code

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "content_too_large",
}
"""Codes of the answers Starlette gives itself (routing, body parsing); others are the phrase."""


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + code,
        title=code.replace("_", " ").capitalize(),
        status=status,
        detail=detail,
        instance=request.url.path,
        error=code,
        **extra,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


async def jetdeck_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JetDeckError)
    if isinstance(exc, OutcomeUnknownError) and exc.idempotency_key is None:
        exc = OutcomeUnknownError(key_in_use(request.scope))  # the key to retry with
    status, code = status_and_code(exc)
    extra: dict[str, Any] = {}
    current = getattr(exc, "status", None)
    if current is not None:
        extra["current_status"] = str(current)
    if isinstance(exc, BeyondLogError):
        extra["last_seq"] = exc.last_seq
    if isinstance(exc, OutcomeUnknownError):
        extra["idempotency_key"] = exc.idempotency_key
    if status == 422:
        extra["errors"] = [FieldError(loc=[], msg=str(exc), type=code)]
    return problem(request, status, code, str(exc), _headers(exc), **extra)


def _headers(exc: JetDeckError) -> dict[str, str] | None:
    if isinstance(exc, UnavailableError):
        return {"Retry-After": "1"}
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="jetdeck"'}
    return None


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming what is wrong where; the input is not echoed, since it may not even encode."""
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors)
    return problem(request, 422, "validation_error", detail, errors=errors)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals: no route (404), a method the route lacks (405, with `Allow`),
    an undecodable body (400, answered as the 422 it is), a body over the limit (413)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot even decode: invalid input, like invalid JSON
        error = FieldError(loc=["body"], msg=str(exc.detail), type="body_undecodable")
        return problem(request, 422, "validation_error", f"body: {exc.detail}", errors=[error])
    phrase = HTTPStatus(exc.status_code).phrase
    code = HTTP_CODES.get(exc.status_code, phrase.lower().replace(" ", "_").replace("-", "_"))
    detail = exc.detail if exc.detail != phrase else _default_detail(request, exc.status_code)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    return problem(request, exc.status_code, code, str(detail), headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route takes at this path: Starlette names only the first route's."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def _default_detail(request: Request, status: int) -> str:
    if status == 404:
        return f"no route matches {request.url.path}"
    if status == 405:
        return f"{request.url.path} does not take {request.method}"
    return HTTPStatus(status).phrase


async def internal_error(request: Request, _: Exception) -> JSONResponse:
    """The one answer for a bug: nothing of it leaks; the server's log has the traceback."""
    return problem(request, 500, "internal_error", "an unexpected error; see the server's log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(JetDeckError, jetdeck_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
