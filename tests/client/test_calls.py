"""How calls are built: a claim may outlast the client's timeout, others keep it."""

from __future__ import annotations

import httpx

from client import queue


def test_a_claim_waits_for_its_answer_longer_than_it_waits_for_work() -> None:
    with httpx.Client(base_url="http://jetdeck", timeout=5) as http:
        claim = queue.claim("agent-1", wait_s=30).request(http)
        release = queue.release("job-1", "claim-token").request(http)
    assert claim.extensions["timeout"]["read"] > 30
    assert release.extensions["timeout"]["read"] == 5
