"""schemathesis over the served OpenAPI document, against the API served by uvicorn on the test's
own nats-server: no answer is a 5xx, and every answer is one the document declares (status,
content type, headers, body schema), for valid input and for invalid input alike.

Bounded: a few examples per operation and mode, the same ones on every run (derandomized), so a
failure here reproduces."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from infra.settings import Settings
from tests.tokens import ADMIN_TOKEN

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 10
"""Per operation and mode: about seventy operations, two modes."""
START_S = 30.0
"""Deadline for the server to start, never a measure of speed."""
CALL_S = 30.0


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The API on a free port, in a thread with its own event loop, as `make run` serves it."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_S
    while not server.started:
        assert thread.is_alive(), "the API stopped while starting"
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(START_S)


def test_no_server_error_and_every_answer_as_documented(served: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/api/openapi.json")
    failures: list[str] = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += fuzz(operation, mode, served, session)
    assert not failures, "\n\n".join(failures)


def fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
) -> list[str]:
    """What schemathesis found wrong with `operation`, as readable reports (none: nothing)."""

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def calls(case: Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=CALL_S)

    try:
        calls()
    except Unsatisfiable:  # nothing to get wrong: no input, so no invalid input either
        assert mode is GenerationMode.NEGATIVE
    except (AssertionError, FailureGroup) as exc:
        return [f"{operation.label} ({mode.value}): {exc}"]
    return []
