"""Service tokens, roles and trust policies; each answers once the read models hold it, since
authentication and the token exchange read them."""

from __future__ import annotations

from domain.access import RoleSet, ServiceToken
from domain.commands.access import (
    ChangeTrustPolicy,
    CreateTrustPolicy,
    DeleteTrustPolicy,
    GrantRole,
    IssueToken,
    RevokeRole,
    RevokeToken,
)
from domain.commands.base import CommandContext
from domain.commands.results import Committed
from domain.errors import SecretShownError, ValidationError
from domain.trust import TrustPolicy
from infra.handlers.settle import settled
from infra.services import Services


async def issue_token(
    services: Services, command: IssueToken, context: CommandContext
) -> tuple[Committed[ServiceToken], str]:
    token_id = context.new_id(command.action)
    if str(token_id) in services.views.access.tokens:
        raise SecretShownError(command.name)
    if services.views.access.active_token_named(command.name):
        raise ValidationError(f"a token named {command.name!r} is active: revoke it first")
    result, secret = await services.access.issue(
        context.cause(command.action),
        token_id,
        command.name,
        command.roles,
        command.service_names,
        command.expires_at,
    )
    if result.replayed:  # the read models had not seen the first issue yet
        raise SecretShownError(command.name)
    return await settled(services, result), secret


async def revoke_token(
    services: Services, command: RevokeToken, context: CommandContext
) -> Committed[ServiceToken]:
    services.access.token(str(command.token_id))
    cause = context.cause(command.action)
    return await settled(
        services, await services.access.revoke(cause, command.token_id, command.reason)
    )


async def grant_role(
    services: Services, command: GrantRole, context: CommandContext
) -> Committed[RoleSet]:
    cause = context.cause(command.action)
    return await settled(
        services, await services.access.set_role(cause, command.principal, command.role, True)
    )


async def revoke_role(
    services: Services, command: RevokeRole, context: CommandContext
) -> Committed[RoleSet]:
    cause = context.cause(command.action)
    return await settled(
        services, await services.access.set_role(cause, command.principal, command.role, False)
    )


async def create_trust_policy(
    services: Services, command: CreateTrustPolicy, context: CommandContext
) -> Committed[TrustPolicy]:
    policy_id = context.new_id(command.action)
    cause = context.cause(command.action)
    return await settled(services, await services.trust.create(cause, policy_id, command.terms))


async def change_trust_policy(
    services: Services, command: ChangeTrustPolicy, context: CommandContext
) -> Committed[TrustPolicy]:
    cause = context.cause(command.action)
    return await settled(
        services, await services.trust.change(cause, command.policy_id, command.terms)
    )


async def delete_trust_policy(
    services: Services, command: DeleteTrustPolicy, context: CommandContext
) -> Committed[TrustPolicy]:
    cause = context.cause(command.action)
    return await settled(services, await services.trust.delete(cause, command.policy_id))
