"""Deployments; going live and rolling back touch two deployments at once, in one append."""

from __future__ import annotations

from uuid import UUID

from domain.commands.base import CommandContext
from domain.commands.deployments import CreateDeployment, ReportStage, RollBackDeployment
from domain.commands.results import Committed
from domain.deployment import Deployment, DeploymentStatus, Environment
from infra.services import Services
from infra.unit_of_work import UnitOfWork


async def create_deployment(
    services: Services, command: CreateDeployment, context: CommandContext
) -> Committed[Deployment]:
    context.principal.require_service(command.service_name)

    async def make(_: UnitOfWork) -> Deployment:
        deployment_id = context.new_id(command.action)
        return Deployment.create(
            deployment_id, command.service_name, command.service_version, command.git
        )

    return await services.commands.create(context.cause(command.action), make)


async def report_stage(
    services: Services, command: ReportStage, context: CommandContext
) -> Committed[Deployment]:
    """Report a stage; going live supersedes the service's previous live deployment."""
    board = services.views.deployments

    async def decide(uow: UnitOfWork, deployment: Deployment) -> None:
        context.principal.require_service(deployment.service_name)
        deployment.advance(command.ENVIRONMENT, command.outcome, command.reason, command.metrics)
        if deployment.status is not DeploymentStatus.LIVE:
            return
        await services.runner.catch_up(services.settings.read_wait_s)
        current = board.live_deployment(deployment.service_name, Environment.PRODUCTION)
        if current is not None and current.deployment_id != str(deployment.id):
            previous = await uow.get(Deployment, UUID(current.deployment_id))
            previous.supersede(deployment.id)

    cause = context.cause(command.action)
    return await services.commands.update(cause, Deployment, command.deployment_id, decide)


async def roll_back(
    services: Services, command: RollBackDeployment, context: CommandContext
) -> Committed[Deployment]:
    """A live deployment hands production back to the one it superseded."""
    board = services.views.deployments

    async def decide(uow: UnitOfWork, deployment: Deployment) -> None:
        context.principal.require_service(deployment.service_name)
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
        deployment.roll_back(command.reason, previous)
        if previous is not None:
            previous.restore(deployment.id)

    cause = context.cause(command.action)
    return await services.commands.update(cause, Deployment, command.deployment_id, decide)
