"""RFC 8693 token exchange: a CI job's OIDC token for a short-lived agent registration.

Public: the OIDC token is the credential. What it is checked against lives in trust policies
(`/api/auth/trust-policies`); the registration it answers with is the bearer token of
`POST /api/agents/register`, limited to the policy's pool.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as SchemaError

from api.deps import ServicesDep
from domain.errors import ValidationError
from wire.access import Exchanged, ExchangeForm
from wire.problems import Problem

router = APIRouter(prefix="/api/auth", tags=["auth"])

FORM = "application/x-www-form-urlencoded"


async def exchange_form(request: Request) -> ExchangeForm:
    """The form, parsed here: FastAPI's `Form` needs python-multipart for what the standard
    library does in one call."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != FORM:
        raise ValidationError(f"the body must be {FORM}")
    try:
        pairs = parse_qsl((await request.body()).decode(), strict_parsing=True, max_num_fields=20)
    except ValueError as exc:
        raise ValidationError(f"the body is not a {FORM} form") from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise ValidationError("a form field is given twice")
    try:
        return ExchangeForm.model_validate(fields)
    except SchemaError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


def _form_schema() -> dict[str, Any]:
    schema = ExchangeForm.model_json_schema()
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}


@router.post(
    "/token",
    openapi_extra=_form_schema(),
    responses={
        401: {"model": Problem, "description": "The OIDC token is refused."},
        422: {"model": Problem, "description": "The form is malformed."},
    },
)
async def exchange(
    form: Annotated[ExchangeForm, Depends(exchange_form)],
    services: ServicesDep,
    response: Response,
) -> Exchanged:
    """An OIDC token that a trust policy admits, for a registration in that policy's pool.
    Each token is accepted once."""
    grant = await services.workload.exchange(form.subject_token)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1: the answer is a credential
    return Exchanged(access_token=grant.token, expires_in=grant.expires_in)
