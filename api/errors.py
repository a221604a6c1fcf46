"""Our errors to HTTP statuses, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.errors import (
    BeyondLogError,
    ConcurrencyError,
    DomainError,
    ForbiddenError,
    InvalidTransitionError,
    JetDeckError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
)

STATUS: list[tuple[type[JetDeckError], int]] = [
    (InvalidTransitionError, 409),
    (ConcurrencyError, 409),
    (BeyondLogError, 409),
    (DomainError, 422),
    (NotFoundError, 404),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (UnavailableError, 503),
]


def status_of(exc: JetDeckError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


async def jetdeck_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JetDeckError)
    body: dict[str, object] = {"detail": str(exc), "error": type(exc).__name__}
    status = getattr(exc, "status", None)
    if status is not None:
        body["status"] = str(status)
    if isinstance(exc, BeyondLogError):
        body["last_seq"] = exc.last_seq
    return JSONResponse(body, status_code=status_of(exc), headers=_headers(exc))


def _headers(exc: JetDeckError) -> dict[str, str] | None:
    if isinstance(exc, UnavailableError):
        return {"Retry-After": "1"}
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="jetdeck"'}
    return None


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 naming what is wrong where; the input is not echoed, since it may not even encode."""
    assert isinstance(exc, RequestValidationError)
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": detail, "error": "ValidationError"}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(JetDeckError, jetdeck_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
