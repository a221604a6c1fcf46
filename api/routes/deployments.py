"""Dashboard deployments: record them, move them through staging and production, roll back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import PROTECTED, Caller, Deploying, Reading, Reporting
from api.commands import Context
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Cursor, Limit
from domain.commands.deployments import STAGES, CreateDeployment, RollBackDeployment
from domain.commands.results import Committed
from domain.deployment import Deployment, DeploymentStatus, Environment
from domain.identity import Permission
from infra.dispatch import handle
from projections.deployments import DeploymentView
from wire.common import Page
from wire.deployments import DeploymentAccepted, DeploymentCreate, RollbackRequest, StageReport

router = APIRouter(prefix="/api/dashboard/deployments", tags=["deployments"], responses=PROTECTED)


def accepted(response: Response, result: Committed[Deployment]) -> DeploymentAccepted:
    committed(response, result)
    deployment = result.aggregate
    return DeploymentAccepted(deployment_id=deployment.id, status=deployment.status, seq=result.seq)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Reporting])
async def create_deployment(
    body: DeploymentCreate, services: ServicesDep, context: Context, response: Response
) -> DeploymentAccepted:
    command = CreateDeployment(body.service_name, body.service_version, body.git())
    return accepted(response, await handle(services, command, context))


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
    context: Context,
    response: Response,
) -> DeploymentAccepted:
    command = RollBackDeployment(deployment_id, body.reason)
    return accepted(response, await handle(services, command, context))


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
    context: Context,
    response: Response,
    body: StageReport | None = None,
) -> DeploymentAccepted:
    """`/staging` or `/production`: report that stage's outcome. Staging needs the report
    permission, production the deploy permission."""
    report = body or StageReport()
    command = STAGES[environment](deployment_id, report.outcome, report.reason, report.metrics)
    return accepted(response, await handle(services, command, context))
