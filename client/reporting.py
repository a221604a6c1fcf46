"""Services reporting what they run elsewhere: jobs, deployments, and their own tokens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from client._http import Call
from client._ops import Op
from client.models import Json, Receipt, json, receipt
from domain.deployment import Environment, Outcome
from domain.job import JobStatus
from domain.values import GitContext

JOBS = "/api/dashboard/jobs"
DEPLOYMENTS = "/api/dashboard/deployments"


def git_fields(git: GitContext) -> dict[str, str]:
    """The API's flat `git_*` body fields of a git context."""
    return {f"git_{name}": value for name, value in git.model_dump().items()}


def create_token(
    name: str, roles: Iterable[str], service_names: Iterable[str] | None = None
) -> Call[Json]:
    """A service token (admins only); the answer's `token` is the secret, shown this once."""
    body: Json = {"name": name, "roles": sorted(roles)}
    if service_names is not None:
        body["service_names"] = sorted(service_names)
    return Call("POST", "/api/auth/tokens", json, body)


def create_job(
    job_type: str,
    git: GitContext,
    metadata: Mapping[str, str] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    body = {"job_type": job_type, **git_fields(git), "metadata": dict(metadata or {})}
    return Call("POST", JOBS, receipt, body, idempotency_key=idempotency_key)


def start_job(
    job_id: UUID | str, agent_id: str | None = None, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    body = {"agent_id": agent_id} if agent_id else {}
    return Call("PATCH", f"{JOBS}/{job_id}/start", receipt, body, idempotency_key=idempotency_key)


def complete_job(
    job_id: UUID | str,
    status: JobStatus,
    exit_code: int | None = None,
    summary: str = "",
    log_url: str | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    body = {"status": status, "exit_code": exit_code, "summary": summary, "log_url": log_url}
    path = f"{JOBS}/{job_id}/complete"
    return Call("PATCH", path, receipt, body, idempotency_key=idempotency_key)


def create_deployment(
    service_name: str, service_version: str, git: GitContext, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    body = {"service_name": service_name, "service_version": service_version, **git_fields(git)}
    return Call("POST", DEPLOYMENTS, receipt, body, idempotency_key=idempotency_key)


def report_stage(
    deployment_id: UUID | str,
    environment: Environment,
    outcome: Outcome = Outcome.STARTED,
    reason: str = "",
    metrics: Mapping[str, float] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    """Staging outcomes advance a deployment; production ones promote it (deployers only)."""
    body = {"outcome": outcome, "reason": reason, "metrics": dict(metrics or {})}
    path = f"{DEPLOYMENTS}/{deployment_id}/{environment.value}"
    return Call("POST", path, receipt, body, idempotency_key=idempotency_key)


def roll_back(
    deployment_id: UUID | str, reason: str, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    path = f"{DEPLOYMENTS}/{deployment_id}/rollback"
    return Call("POST", path, receipt, {"reason": reason}, idempotency_key=idempotency_key)


class Reporting:
    create_token = Op(create_token)
    create_job = Op(create_job)
    start_job = Op(start_job)
    complete_job = Op(complete_job)
    create_deployment = Op(create_deployment)
    report_stage = Op(report_stage)
    roll_back = Op(roll_back)
