"""Dashboard deployments: record them, move them through staging and production, roll back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field, FiniteFloat

from api.auth import PROTECTED, Caller, Deploying, Reading, Reporting
from api.commands import Command
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Body, Cursor, GitFields, Limit, Page
from domain.deployment import Deployment, DeploymentStatus, Environment, Outcome
from domain.identity import Permission
from domain.values import Name, ShortText, Text
from infra import deployment_commands
from infra.commands import Committed
from infra.unit_of_work import UnitOfWork
from projections.deployments import DeploymentView

router = APIRouter(prefix="/api/dashboard/deployments", tags=["deployments"], responses=PROTECTED)


class DeploymentCreate(GitFields):
    service_name: Name
    service_version: Name
    git_repo: ShortText = ""
    git_ref: ShortText = ""


class StageReport(Body):
    """`started` enters the stage; `succeeded` gives staged (staging) or live (production)."""

    outcome: Outcome = Outcome.STARTED
    reason: Text = ""
    metrics: Annotated[dict[Name, FiniteFloat], Field(max_length=64)] = {}


class RollbackRequest(Body):
    reason: Annotated[str, Field(min_length=1, max_length=10_000)]


class DeploymentAccepted(BaseModel):
    deployment_id: UUID
    status: DeploymentStatus
    seq: int


def accepted(response: Response, result: Committed[Deployment]) -> DeploymentAccepted:
    committed(response, result)
    deployment = result.aggregate
    return DeploymentAccepted(deployment_id=deployment.id, status=deployment.status, seq=result.seq)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Reporting])
async def create_deployment(
    body: DeploymentCreate, services: ServicesDep, command: Command, response: Response
) -> DeploymentAccepted:
    command.principal.require_service(body.service_name)

    async def make(_: UnitOfWork) -> Deployment:
        return Deployment.create(
            command.new_id("deployment.create"), body.service_name, body.service_version, body.git()
        )

    result = await services.commands.create(command.cause("deployment.create"), make)
    return accepted(response, result)


@router.get("", dependencies=[Reading])
async def list_deployments(
    services: Reader,
    service: Annotated[str | None, Query(max_length=200)] = None,
    status: DeploymentStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeploymentView]:
    items, next_cursor = services.views.deployments.page(service, status, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/service/{service_name}", dependencies=[Reading])
async def service_deployments(
    service_name: str, services: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeploymentView]:
    return Page.window(services.views.deployments.for_service(service_name), limit, cursor)


@router.get("/{deployment_id}", dependencies=[Reading])
async def get_deployment(deployment_id: UUID, services: Reader) -> DeploymentView:
    return found(services.views.deployments.get(str(deployment_id)), Deployment.KIND, deployment_id)


@router.post("/{deployment_id}/rollback", dependencies=[Deploying])
async def roll_back(
    deployment_id: UUID,
    body: RollbackRequest,
    services: ServicesDep,
    command: Command,
    response: Response,
) -> DeploymentAccepted:
    cause = command.cause("deployment.rollback")
    result = await deployment_commands.roll_back(
        services, command.principal, cause, deployment_id, body.reason
    )
    return accepted(response, result)


async def stage_permission(environment: Environment, principal: Caller) -> None:
    """Staging outcomes are reports; production outcomes promote, which deployers do."""
    if environment is Environment.PRODUCTION:
        principal.require(Permission.DEPLOY)


@router.post(
    "/{deployment_id}/{environment}",
    dependencies=[Reporting, Depends(stage_permission)],
)
async def report_stage(
    deployment_id: UUID,
    environment: Environment,
    services: ServicesDep,
    command: Command,
    response: Response,
    body: StageReport | None = None,
) -> DeploymentAccepted:
    """`/staging` or `/production`: report that stage's outcome. Staging needs the report
    permission, production the deploy permission."""
    report = body or StageReport()
    result = await deployment_commands.advance(
        services,
        command.principal,
        command.cause(f"deployment.{environment.value}.{report.outcome.value}"),
        deployment_id,
        environment,
        report.outcome,
        report.reason,
        report.metrics,
    )
    return accepted(response, result)
