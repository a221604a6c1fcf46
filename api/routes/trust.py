"""Admin: trust policies, which decide what CI jobs' OIDC tokens may register agents, where."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.auth import PROTECTED, Administering
from api.commands import Context
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Cursor, Limit
from domain.commands.access import ChangeTrustPolicy, CreateTrustPolicy, DeleteTrustPolicy
from domain.trust import PolicyTerms, TrustPolicy
from infra.dispatch import handle
from projections.trust import TrustPolicyView
from wire.access import PolicyDeleted
from wire.common import Page

router = APIRouter(
    prefix="/api/auth/trust-policies",
    tags=["auth"],
    dependencies=[Administering],
    responses=PROTECTED,
)


def _view(services: ServicesDep, policy_id: UUID) -> TrustPolicyView:
    return found(services.views.trust.get(str(policy_id)), TrustPolicy.KIND, policy_id)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_policy(
    body: PolicyTerms, services: ServicesDep, context: Context, response: Response
) -> TrustPolicyView:
    result = await handle(services, CreateTrustPolicy(body), context)
    committed(response, result)
    return _view(services, result.aggregate.id)


@router.get("")
async def list_policies(
    services: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[TrustPolicyView]:
    """Oldest first: when two policies admit a token, the older one decides its pool."""
    return Page.window(services.views.trust.all(), limit, cursor)


@router.get("/{policy_id}")
async def get_policy(policy_id: UUID, services: Reader) -> TrustPolicyView:
    return _view(services, policy_id)


@router.put("/{policy_id}")
async def change_policy(
    policy_id: UUID,
    body: PolicyTerms,
    services: ServicesDep,
    context: Context,
    response: Response,
) -> TrustPolicyView:
    """Registrations the policy handed out before the change stop working."""
    committed(response, await handle(services, ChangeTrustPolicy(policy_id, body), context))
    return _view(services, policy_id)


@router.delete("/{policy_id}")
async def delete_policy(
    policy_id: UUID, services: ServicesDep, context: Context, response: Response
) -> PolicyDeleted:
    """Registrations the policy handed out stop working too."""
    result = await handle(services, DeleteTrustPolicy(policy_id), context)
    committed(response, result)
    return PolicyDeleted(policy_id=policy_id, seq=result.seq)
