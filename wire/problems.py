"""Errors on the wire: every one is an RFC 9457 problem with JetDeck's stable `error` code, and
each of our errors has one status and code, over HTTP and over the NATS gateway alike."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.errors import (
    BeyondLogError,
    ConcurrencyError,
    DomainError,
    ExpiredError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    JetDeckError,
    NotFoundError,
    OutcomeUnknownError,
    SecretShownError,
    UnauthorizedError,
    UnavailableError,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:jetdeck:problem:"

ERRORS: list[tuple[type[JetDeckError], int, str]] = [
    (InvalidTransitionError, 409, "invalid_transition"),
    (ConcurrencyError, 409, "concurrency_conflict"),
    (BeyondLogError, 409, "beyond_log"),
    (IdempotencyKeyReusedError, 422, "idempotency_key_reused"),
    (SecretShownError, 409, "secret_already_shown"),
    (DomainError, 422, "validation_error"),
    (NotFoundError, 404, "not_found"),
    (ExpiredError, 410, "logs_expired"),
    (UnauthorizedError, 401, "unauthorized"),
    (ForbiddenError, 403, "forbidden"),
    (OutcomeUnknownError, 503, "outcome_unknown"),
    (UnavailableError, 503, "unavailable"),
]
"""Most specific first: an error takes the first row it is an instance of."""


def status_and_code(exc: JetDeckError) -> tuple[int, str]:
    return next(((s, c) for cls, s, c in ERRORS if isinstance(exc, cls)), (500, "internal_error"))


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path` or `header` and the field's path; empty "
        "when the request as a whole breaks a rule."
    )
    msg: str
    type: str = Field(description="The kind of mistake, e.g. `missing`, `value_error`.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details plus JetDeck's `error` code; clients branch on
    `error`, which never changes for a kind of error."""

    type: str = Field(description=f"`{TYPE_PREFIX}<error>`")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request's path.")
    error: str = Field(description="JetDeck's code for the kind of error, in snake_case.")
    errors: list[FieldError] | None = Field(
        default=None, description="422 only: each bad field, with what is wrong with it."
    )
    current_status: str | None = Field(
        default=None, description="409 on a transition: the status the resource is in."
    )
    last_seq: int | None = Field(
        default=None, description="409 for a `min_seq` beyond the log: its last sequence."
    )
    idempotency_key: str | None = Field(
        default=None,
        description="`outcome_unknown`: the write's key; resend the write with it, safely.",
    )
