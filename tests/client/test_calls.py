"""How calls are built: a claim may outlast the client's timeout, others keep it; a body the
API's request model refuses never leaves the client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from client import JetDeck, RetryPolicy, queue
from domain.job_reports import CompletionReport
from domain.job_status import JobStatus
from domain.queue import QueueSpec
from domain.values import GitContext
from tests.client.helpers import GIT, Counting


def test_a_claim_waits_for_its_answer_longer_than_it_waits_for_work() -> None:
    with httpx.Client(base_url="http://jetdeck", timeout=5) as http:
        claim = queue.claim("agent-1", wait_s=30).request(http)
        release = queue.release("job-1", "claim-token").request(http)
    assert claim.extensions["timeout"]["read"] > 30
    assert release.extensions["timeout"]["read"] == 5


def test_a_request_carries_only_the_fields_given() -> None:
    job_id = "0b7c4a52-7f0e-4d44-9d1a-3c6c2f1b9e10"
    with httpx.Client(base_url="http://jetdeck") as http:
        request = queue.queue_existing(job_id, QueueSpec(pool="gpu")).request(http)
    assert json.loads(request.read()) == {"job_id": job_id, "pool": "gpu"}


BAD_INPUTS: dict[str, Callable[[JetDeck], Any]] = {
    "a token name with spaces": lambda d: d.create_token("no spaces allowed", ["deployer"]),
    "an unknown role": lambda d: d.create_token("ci", ["emperor"]),
    "a commit sha that is not hex": lambda d: d.create_job(
        "test", GitContext.model_construct(**(GIT.model_dump() | {"commit_sha": "zz"}))
    ),
    "a status that is not final": lambda d: d.complete_job("job-1", JobStatus.RUNNING),
    "a claim waiting too long": lambda d: d.claim("agent-1", wait_s=31),
    "a report of a running job": lambda d: d.complete_claimed(
        "job-1", "token", CompletionReport.model_construct(exit_code=0, status=JobStatus.RUNNING)
    ),
    "a CPU beyond 100%": lambda d: d.agent_heartbeat("agent-1", 101, 5, 5),
    "an empty rollback reason": lambda d: d.roll_back("deployment-1", ""),
}


@pytest.mark.parametrize("call", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_a_bad_input_raises_pydantics_error_before_any_request(
    call: Callable[[JetDeck], Any],
) -> None:
    counting = Counting()
    deck = JetDeck("http://jetdeck", retry=RetryPolicy(attempts=1), transport=counting)
    with deck, pytest.raises(ValidationError):
        call(deck)
    assert counting.sent == 0
