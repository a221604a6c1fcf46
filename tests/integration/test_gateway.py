"""The native NATS path answers like the HTTP path and records the same events."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client

from domain.agent import HostInfo, Metrics
from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import QueueSpec
from domain.recorded import Cause
from domain.values import GitContext
from infra.services import Services
from infra.unit_of_work import load_history
from tests.integration import helpers
from tests.queue_helpers import queue_holds
from wire.problems import ERRORS

GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")


@pytest.fixture
async def services(gateway_beside: Services) -> Services:
    return gateway_beside


async def ask(nc: Client, operation: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
    return await helpers.ask(nc, f"jetdeck.queue.{operation}", body)


async def enqueue(services: Services) -> str:
    cause = Cause("test", "enqueue-1", "job.enqueue", "enqueue-1")
    result = await services.queue.enqueue(cause, uuid4(), "test", GIT, {}, QueueSpec())
    return str(result.aggregate.id)


async def test_claim_and_complete_over_nats_record_the_queue_events_in_the_agents_name(
    services: Services, nc: Client
) -> None:
    job_id = await enqueue(services)
    agent_id, token = await register(services, "native-1")
    claim = {"agent_id": agent_id, "wait_s": 5, "agent_token": token}
    granted = await ask(nc, "claim", claim)
    assert granted["status"] == 200
    assert granted["job"]["job_id"] == job_id
    lease = {"job_id": job_id, "claim_token": granted["claim_token"], "agent_token": token}
    done = await ask(nc, "complete", lease | {"exit_code": 0})
    assert done["job_status"] == JobStatus.SUCCESS
    history = await load_history(services.store, Job.KIND, UUID(job_id))
    assert [r.type for r in history] == ["job.Created", "job.Claimed", "job.Completed"]
    claimed = history[1].event
    assert isinstance(claimed, Job.Claimed)
    assert claimed.agent_id == agent_id
    assert [r.cause.actor for r in history] == ["test", f"agent:{agent_id}", f"agent:{agent_id}"]


async def test_an_empty_queue_answers_204(services: Services, nc: Client) -> None:
    await enqueue(services)
    (a, token_a), (b, token_b) = await register(services, "a"), await register(services, "b")
    await ask(nc, "claim", {"agent_id": a, "wait_s": 5, "agent_token": token_a})
    empty = await ask(nc, "claim", {"agent_id": b, "wait_s": 0.2, "agent_token": token_b})
    assert empty["status"] == 204


@pytest.mark.parametrize(
    ("operation", "body", "status"),
    [
        ("claim", b"not json", 422),
        ("claim", {"agent_id": "a", "wait_s": 99}, 422),
        ("complete", {"job_id": "nope", "claim_token": "t", "exit_code": 0}, 422),
        (
            "complete",
            {
                "job_id": "6b270f22-4b9d-53c5-a517-58d818e9964b",
                "claim_token": "x.y",
                "exit_code": 0,
            },
            401,
        ),
        ("launch", {}, 404),
    ],
)
async def test_bad_requests_get_an_error_answer(
    services: Services, nc: Client, operation: str, body: dict[str, Any] | bytes, status: int
) -> None:
    answer = await ask(nc, operation, body)
    assert answer["status"] == status
    assert answer["detail"]
    assert answer["error"] in CODES  # the same stable codes as the HTTP problems


CODES = {code for _, _, code in ERRORS} | {"validation_error", "not_found"}

HOST = HostInfo(hostname="h", os="linux", arch="x86_64", cpu_count=2, memory_mb=1024)


async def register(services: Services, name: str) -> tuple[str, str]:
    cause = Cause("test", f"register-{name}", "agent.register", name)
    done = await services.agents.register(
        cause, uuid4(), name, "default", frozenset(), "1", HOST, 1
    )
    await beat(services, str(done.agent.id))
    return str(done.agent.id), done.token


async def beat(services: Services, agent_id: str) -> None:
    metrics = Metrics(cpu_pct=1, mem_pct=1, disk_pct=1, running_jobs=0)
    await services.agents.heartbeat(agent_id, metrics, ())


async def test_native_calls_need_the_agents_token_and_act_only_for_it(
    services: Services, nc: Client
) -> None:
    await enqueue(services)
    (a, token_a), (b, _) = await register(services, "a"), await register(services, "b")
    no_token = await ask(nc, "claim", {"agent_id": a, "wait_s": 1})
    assert no_token["status"] == 401
    as_b = await ask(nc, "claim", {"agent_id": b, "wait_s": 1, "agent_token": token_a})
    assert as_b["status"] == 403
    granted = await ask(nc, "claim", {"agent_id": a, "wait_s": 5, "agent_token": token_a})
    assert granted["status"] == 200
    lease = {"job_id": granted["job"]["job_id"], "claim_token": granted["claim_token"]}
    assert (await ask(nc, "start", lease))["status"] == 401
    started = await ask(nc, "start", lease | {"agent_token": token_a, "idempotency_key": "s-1"})
    again = await ask(nc, "start", lease | {"agent_token": token_a, "idempotency_key": "s-1"})
    assert started == again
    assert started["job_status"] == JobStatus.RUNNING
    done = lease | {"agent_token": token_a, "idempotency_key": "c-1", "exit_code": 0}
    assert (await ask(nc, "complete", done | {"summary": "ok"}))["status"] == 200
    other = await ask(nc, "complete", done | {"summary": "another report"})
    assert (other["status"], other["error"]) == (422, "idempotency_key_reused")


@pytest.mark.parametrize("reply", ["$KV.jetdeck-config.token-secret", "ev.job.x.created"])
async def test_a_reply_subject_that_is_not_an_inbox_gets_no_answer_written(
    services: Services, nc: Client, reply: str
) -> None:
    """The gateway publishes as JetDeck's own user: a caller must not choose where it writes."""
    config = await services.nc.jetstream().key_value("jetdeck-config")
    secret = (await config.get("token-secret")).value
    before = (await services.stream_state()).last_seq
    await nc.publish("jetdeck.queue.launch", b"{}", reply=reply)
    await nc.publish("jetdeck.queue.claim", b"{}", reply=reply)
    answered = await ask(nc, "launch", {})  # a real inbox still gets its answer, after those
    assert answered["status"] == 404
    assert (await config.get("token-secret")).value == secret
    assert (await services.stream_state()).last_seq == before


async def test_an_agent_with_free_slots_claims_several_jobs_in_one_request(
    services: Services, nc: Client
) -> None:
    jobs = [await enqueue(services) for _ in range(3)]
    await queue_holds(services, 3)  # a claim takes what QUEUE holds, which lags EVENTS
    agent_id, token = await register(services, "slots")
    ask_for = {"agent_id": agent_id, "wait_s": 2, "agent_token": token}
    first = await ask(nc, "claims", ask_for | {"max_jobs": 2})
    rest = await ask(nc, "claims", ask_for | {"max_jobs": 5})
    none = await ask(nc, "claims", ask_for | {"max_jobs": 5, "wait_s": 0})
    assert (first["status"], rest["status"], none["status"]) == (200, 200, 200)
    claimed = [c["job"]["job_id"] for c in first["claims"] + rest["claims"]]
    assert claimed == jobs, "every job once, in the order queued"
    assert none["claims"] == []
    for bad in (0, 65, "two"):
        refused = await ask(nc, "claims", ask_for | {"max_jobs": bad})
        assert (refused["status"], refused["error"]) == (422, "validation_error"), bad
