"""Deployment commands that touch two deployments at once, in one atomic append."""

from __future__ import annotations

from uuid import UUID

from domain.deployment import Deployment, DeploymentStatus, Environment, Outcome
from domain.identity import Principal
from domain.recorded import Cause
from infra.commands import Committed
from infra.services import Services
from infra.unit_of_work import UnitOfWork


async def advance(
    services: Services,
    principal: Principal,
    cause: Cause,
    deployment_id: UUID,
    environment: Environment,
    outcome: Outcome,
    reason: str = "",
    metrics: dict[str, float] | None = None,
) -> Committed[Deployment]:
    """Report a stage; going live supersedes the service's previous live deployment."""
    board = services.views.deployments

    async def decide(uow: UnitOfWork, deployment: Deployment) -> None:
        principal.require_service(deployment.service_name)
        deployment.advance(environment, outcome, reason, metrics)
        if deployment.status is not DeploymentStatus.LIVE:
            return
        await services.runner.catch_up(services.settings.read_wait_s)
        current = board.live_deployment(deployment.service_name, Environment.PRODUCTION)
        if current is not None and current.deployment_id != str(deployment.id):
            previous = await uow.get(Deployment, UUID(current.deployment_id))
            previous.supersede(deployment.id)

    return await services.commands.update(cause, Deployment, deployment_id, decide)


async def roll_back(
    services: Services, principal: Principal, cause: Cause, deployment_id: UUID, reason: str
) -> Committed[Deployment]:
    """Roll back; a live deployment hands production back to the one it superseded."""
    board = services.views.deployments

    async def decide(uow: UnitOfWork, deployment: Deployment) -> None:
        principal.require_service(deployment.service_name)
        previous: Deployment | None = None
        if deployment.status is DeploymentStatus.LIVE:
            await services.runner.catch_up(services.settings.read_wait_s)
            replaced = next(
                (
                    d
                    for d in board.for_service(deployment.service_name)
                    if d.superseded_by == str(deployment.id)
                    and d.status is DeploymentStatus.SUPERSEDED
                ),
                None,
            )
            if replaced is not None:
                previous = await uow.get(Deployment, UUID(replaced.deployment_id))
        deployment.roll_back(reason, previous)
        if previous is not None:
            previous.restore(deployment.id)

    return await services.commands.update(cause, Deployment, deployment_id, decide)
