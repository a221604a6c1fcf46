"""Services' native commands (`jetdeck.cmd.<command>`): the HTTP commands over NATS, a batch
landing every job, each job answered on its own, retries writing nothing, refusals appending
nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from nats.aio.client import Client

from domain.identity import Role
from domain.job import Job
from domain.recorded import Cause
from infra.services import Services
from tests.integration import helpers
from tests.queue_helpers import NEW_JOB, events, eventually, job_log
from wire.batch import MAX_BATCH

UNKNOWN_ID = "6b270f22-4b9d-53c5-a517-58d818e9964b"


@pytest.fixture
async def services(gateway_beside: Services) -> Services:
    return gateway_beside


async def ask(nc: Client, command: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
    return await helpers.ask(nc, f"jetdeck.cmd.{command}", body)


async def token(services: Services, nc: Client, role: Role) -> str:
    """A service token holding `role`, once the gateway knows it (a cancel of no job answers
    404 rather than 401, and writes nothing)."""
    name = f"svc-{role}"
    cause = Cause("test", f"issue-{name}", "token.issue", name)
    _, secret = await services.access.issue(cause, uuid4(), name, frozenset({role}), None, None)

    async def known() -> bool:
        probe = {"token": secret, "job_id": UNKNOWN_ID}
        status: int = (await ask(nc, "cancel_job", probe))["status"]
        return status != 401

    await eventually(known, 10, "the gateway knows the new token")
    return secret


def jobs(count: int) -> list[dict[str, Any]]:
    return [NEW_JOB | {"command": f"echo {n}"} for n in range(count)]


async def last_seq(services: Services) -> int:
    return (await services.stream_state()).last_seq


async def test_a_batch_lands_every_job_in_the_log_in_the_services_name(
    services: Services, nc: Client
) -> None:
    secret = await token(services, nc, Role.OPERATOR)
    answer = await ask(nc, "enqueue_batch", {"token": secret, "jobs": jobs(100)})
    assert (answer["status"], answer["queued"]) == (200, 100)
    ids = [UUID(j["job_id"]) for j in answer["jobs"]]
    log = await job_log(services.store)
    created = {e.originator_id: e for e in events(log, Job.Created)}
    assert set(ids) <= set(created)
    specs = [created[i].spec for i in ids]
    assert [s.command if s else None for s in specs] == [f"echo {n}" for n in range(100)]
    actors = {r.cause.actor for r in log if r.event.originator_id in set(ids)}
    assert actors == {f"service:svc-{Role.OPERATOR}"}
    seqs = [j["seq"] for j in answer["jobs"]]
    assert seqs == sorted(seqs)  # in the batch's order: FIFO holds inside a batch


async def test_one_refused_job_refuses_only_itself_and_a_retry_writes_nothing(
    services: Services, nc: Client
) -> None:
    secret = await token(services, nc, Role.OPERATOR)
    body = {"token": secret, "idempotency_key": "b-1", "jobs": [*jobs(2), {"job_id": UNKNOWN_ID}]}
    first = await ask(nc, "enqueue_batch", body)
    assert [j["status"] for j in first["jobs"]] == [201, 201, 404]
    assert first["jobs"][2]["error"] == "not_found"
    before = await last_seq(services)
    again = await ask(nc, "enqueue_batch", body)
    assert await last_seq(services) == before
    assert [j.get("job_id") for j in again["jobs"]] == [j.get("job_id") for j in first["jobs"]]
    assert [j["existing"] for j in again["jobs"][:2]] == [True, True]


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.REPORTER])
async def test_a_caller_without_a_token_or_the_permission_appends_nothing(
    services: Services, nc: Client, role: Role | None
) -> None:
    secret = None if role is None else await token(services, nc, role)
    before = await last_seq(services)
    for command, body in [("enqueue_batch", {"jobs": jobs(2)}), ("enqueue", NEW_JOB)]:
        answer = await ask(nc, command, body | ({"token": secret} if secret else {}))
        assert answer["status"] == (401 if role is None else 403), answer
    assert await last_seq(services) == before


@pytest.mark.parametrize(
    ("command", "body"),
    [
        pytest.param("enqueue_batch", b"not json", id="not-json"),
        pytest.param("enqueue_batch", {"jobs": []}, id="empty"),
        pytest.param("enqueue_batch", {"jobs": [NEW_JOB] * (MAX_BATCH + 1)}, id="oversized"),
        pytest.param("enqueue_batch", {"jobs": [NEW_JOB, {"git_repo": "r"}]}, id="one-bad"),
        pytest.param(
            "enqueue_batch",
            {"jobs": [NEW_JOB | {"run_at": "2999-01-01T00:00:00Z"}]},
            id="run-at-beyond-horizon",
        ),
        pytest.param("enqueue", NEW_JOB | {"priority": "urgent"}, id="bad-priority"),
    ],
)
async def test_a_bad_request_gets_a_422_and_appends_nothing(
    services: Services, nc: Client, command: str, body: dict[str, Any] | bytes
) -> None:
    secret = await token(services, nc, Role.OPERATOR)
    raw = body if isinstance(body, bytes) else orjson.dumps(body | {"token": secret})
    before = await last_seq(services)
    answer = await ask(nc, command, raw)
    assert (answer["status"], answer["error"]) == (422, "validation_error"), answer
    assert await last_seq(services) == before


async def test_an_unknown_command_is_a_404(services: Services, nc: Client) -> None:
    assert (await ask(nc, "launch", {}))["status"] == 404


async def test_a_service_reports_a_job_it_runs_elsewhere(services: Services, nc: Client) -> None:
    secret = await token(services, nc, Role.REPORTER)
    created = await ask(nc, "create_job", NEW_JOB | {"token": secret, "idempotency_key": "r-1"})
    assert (created["status"], created["job_status"]) == (201, "pending")
    job = {"token": secret, "job_id": created["job_id"]}
    assert (await ask(nc, "start_job", job))["job_status"] == "running"
    done = await ask(nc, "complete_job", job | {"status": "success", "exit_code": 0})
    assert done["job_status"] == "success"
    log = await job_log(services.store)
    mine = [r.type for r in log if str(r.event.originator_id) == created["job_id"]]
    assert mine == ["job.Created", "job.Started", "job.Completed"]


async def test_a_single_enqueue_answers_as_over_http_and_a_retry_writes_nothing(
    services: Services, nc: Client
) -> None:
    secret = await token(services, nc, Role.OPERATOR)
    body = NEW_JOB | {"token": secret, "idempotency_key": "e-1"}
    first = await ask(nc, "enqueue", body)
    assert (first["status"], first["job_status"], first["existing"]) == (201, "queued", False)
    before = await last_seq(services)
    again = await ask(nc, "enqueue", body)
    assert await last_seq(services) == before
    assert (again["job_id"], again["seq"], again["existing"]) == (
        first["job_id"],
        first["seq"],
        True,
    )
