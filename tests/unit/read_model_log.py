"""Events that real domain commands record and the codec round-trips, for the read models' tests:
jobs and deployments at given times, and the read models fed with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

from domain.deployment import Deployment, DeploymentStatus, Environment, Outcome
from domain.job import Job
from domain.job_status import JobStatus
from domain.recorded import RecordedEvent
from domain.values import GitContext
from projections.base import ReadModel
from projections.deployments import DeploymentView
from projections.jobs import JobBoard, JobFilter, JobView
from tests.conftest import Recorder

M = TypeVar("M", bound=ReadModel)
S = JobStatus
D = DeploymentStatus
STAGING, PRODUCTION = Environment.STAGING, Environment.PRODUCTION
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fed(model: M, log: list[RecordedEvent]) -> M:
    for recorded in log:
        model.apply(recorded)
    return model


def new_job(
    rec: Recorder, label: str, repo: str = "org/a", ref: str = "main", created: float = 0
) -> Job:
    git = GitContext(repo=repo, ref=ref, commit_sha="abc123def456")
    job = Job.create(uuid4(), "test", git, {"label": label})
    rec.record(job, at(created))
    return job


def start(rec: Recorder, job: Job, agent: str = "agent-1", when: float = 0) -> None:
    job.start(agent)
    rec.record(job, at(when))


def finish(rec: Recorder, job: Job, outcome: JobStatus, when: float = 0) -> None:
    job.complete(outcome, exit_code=0 if outcome is S.SUCCESS else 1)
    rec.record(job, at(when))


def ran(rec: Recorder, label: str, outcome: JobStatus, took: float, **job: Any) -> Job:
    """A job created, started and finished `took` seconds after it started."""
    created = new_job(rec, label, **job)
    start(rec, created, when=1)
    finish(rec, created, outcome, when=1 + took)
    return created


def labels(jobs: list[JobView]) -> str:
    return "".join(j.metadata["label"] for j in jobs)


def new_deployment(rec: Recorder, service: str, version: str, created: float = 0) -> Deployment:
    deployment = Deployment.create(uuid4(), service, version, GitContext(commit_sha="abc1234"))
    rec.record(deployment, at(created))
    return deployment


def advance(rec: Recorder, deployment: Deployment, env: Environment, when: float = 0) -> None:
    deployment.advance(env, Outcome.SUCCEEDED)
    rec.record(deployment, at(when))


def go_live(rec: Recorder, deployment: Deployment, replaces: Deployment | None = None) -> None:
    """Stage and release, superseding `replaces` as the deployment route does."""
    advance(rec, deployment, STAGING)
    advance(rec, deployment, PRODUCTION)
    if replaces is not None:
        replaces.supersede(deployment.id)
        rec.record(replaces)


def versions(views: list[DeploymentView]) -> list[str]:
    return [v.service_version for v in views]


def pages(board: JobBoard, flt: JobFilter, limit: int) -> list[str]:
    """Every page's labels, following cursors until there is none."""
    out: list[str] = []
    cursor: int | None = None
    while True:
        items, cursor = board.page(flt, limit, cursor)
        out.append(labels(items))
        if cursor is None:
            return out
