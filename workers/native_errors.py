"""Every failure of a native request as an answer with a status, as at the HTTP edge: the caller
never waits for silence, and the codes are the HTTP problems' own."""

from __future__ import annotations

import logging
from typing import Any

from nats.errors import Error as NatsError
from pydantic import ValidationError

from domain.errors import JetDeckError, OutcomeUnknownError
from wire.problems import status_and_code

Reply = dict[str, Any]
log = logging.getLogger(__name__)


def error_reply(exc: Exception, operation: str, key: str | None) -> Reply:
    """The answer for `exc`; call it from the `except` that caught it (a 500 logs the trace).
    `key`: the idempotency key the request ran under, if it got that far."""
    if isinstance(exc, ValidationError):  # named, never echoed: a request carries a token
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return {"status": 422, "error": "validation_error", "detail": detail}
    if isinstance(exc, JetDeckError):
        status, code = status_and_code(exc)
        reply: Reply = {"status": status, "error": code, "detail": str(exc)}
        if isinstance(exc, OutcomeUnknownError) and key is not None:
            reply["idempotency_key"] = key  # resend with it: the retry lands once
        return reply
    if isinstance(exc, NatsError | TimeoutError):
        return {"status": 503, "error": "unavailable", "detail": repr(exc)}
    log.exception("native %s failed", operation)
    return {"status": 500, "error": "internal_error", "detail": "see the gateway's log"}
