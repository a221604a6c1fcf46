"""Services reporting what they run elsewhere: jobs, deployments, and their own tokens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from uuid import UUID

from client._http import Call
from client._ops import Op
from client.models import Written, body, model, written
from domain.deployment import Environment, Outcome
from domain.job_status import JobStatus
from domain.values import GitContext
from wire.access import IssuedToken, TokenRequest
from wire.deployments import DeploymentAccepted, DeploymentCreate, RollbackRequest, StageReport
from wire.jobs import JobAccepted, JobComplete, JobCreate, JobStart

JOBS = "/api/dashboard/jobs"
DEPLOYMENTS = "/api/dashboard/deployments"
JOB_ACCEPTED = written(model(JobAccepted))
DEPLOYMENT_ACCEPTED = written(model(DeploymentAccepted))


def git_fields(git: GitContext) -> dict[str, str]:
    """The API's flat `git_*` body fields of a git context."""
    return {f"git_{name}": value for name, value in git.model_dump().items()}


def create_token(
    name: str,
    roles: Iterable[str],
    service_names: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> Call[Written[IssuedToken]]:
    """A service token (admins only); the answer's `token` is the secret, shown this once."""
    names = None if service_names is None else frozenset(service_names)
    request = TokenRequest(
        name=name, roles=frozenset(roles), service_names=names, expires_at=expires_at
    )
    return Call("POST", "/api/auth/tokens", written(model(IssuedToken)), body(request))


def create_job(
    job_type: str,
    git: GitContext,
    metadata: Mapping[str, str] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[JobAccepted]]:
    request = JobCreate(job_type=job_type, **git_fields(git), metadata=dict(metadata or {}))
    return Call("POST", JOBS, JOB_ACCEPTED, body(request), idempotency_key=idempotency_key)


def start_job(
    job_id: UUID | str, agent_id: str | None = None, *, idempotency_key: str | None = None
) -> Call[Written[JobAccepted]]:
    path = f"{JOBS}/{job_id}/start"
    request = JobStart(agent_id=agent_id)
    return Call("PATCH", path, JOB_ACCEPTED, body(request), idempotency_key=idempotency_key)


def complete_job(
    job_id: UUID | str,
    status: JobStatus,
    exit_code: int | None = None,
    summary: str = "",
    log_url: str | None = None,
    artifact_urls: Iterable[str] = (),
    *,
    idempotency_key: str | None = None,
) -> Call[Written[JobAccepted]]:
    """`status` is a final one (success, failed, timeout, cancelled, error)."""
    request = JobComplete(
        status=status,
        exit_code=exit_code,
        summary=summary,
        log_url=log_url,
        artifact_urls=tuple(artifact_urls),
    )
    path = f"{JOBS}/{job_id}/complete"
    return Call("PATCH", path, JOB_ACCEPTED, body(request), idempotency_key=idempotency_key)


def create_deployment(
    service_name: str, service_version: str, git: GitContext, *, idempotency_key: str | None = None
) -> Call[Written[DeploymentAccepted]]:
    request = DeploymentCreate(
        service_name=service_name, service_version=service_version, **git_fields(git)
    )
    return Call(
        "POST", DEPLOYMENTS, DEPLOYMENT_ACCEPTED, body(request), idempotency_key=idempotency_key
    )


def report_stage(
    deployment_id: UUID | str,
    environment: Environment,
    outcome: Outcome = Outcome.STARTED,
    reason: str = "",
    metrics: Mapping[str, float] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[DeploymentAccepted]]:
    """Staging outcomes advance a deployment; production ones promote it (deployers only)."""
    request = StageReport(outcome=outcome, reason=reason, metrics=dict(metrics or {}))
    path = f"{DEPLOYMENTS}/{deployment_id}/{environment.value}"
    return Call("POST", path, DEPLOYMENT_ACCEPTED, body(request), idempotency_key=idempotency_key)


def roll_back(
    deployment_id: UUID | str, reason: str, *, idempotency_key: str | None = None
) -> Call[Written[DeploymentAccepted]]:
    request = RollbackRequest(reason=reason)
    path = f"{DEPLOYMENTS}/{deployment_id}/rollback"
    return Call("POST", path, DEPLOYMENT_ACCEPTED, body(request), idempotency_key=idempotency_key)


class Reporting:
    create_token = Op(create_token)
    create_job = Op(create_job)
    start_job = Op(start_job)
    complete_job = Op(complete_job)
    create_deployment = Op(create_deployment)
    report_stage = Op(report_stage)
    roll_back = Op(roll_back)
