"""Admin: trust policies, which decide what CI jobs' OIDC tokens may register agents, where."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from api.auth import PROTECTED, Administering
from api.commands import Command
from api.deps import Reader, ServicesDep, committed, found
from api.schemas import Cursor, Limit, Page
from domain.trust import PolicyTerms, TrustPolicy
from infra.commands import Committed
from projections.trust import TrustPolicyView

router = APIRouter(
    prefix="/api/auth/trust-policies",
    tags=["auth"],
    dependencies=[Administering],
    responses=PROTECTED,
)


class PolicyDeleted(BaseModel):
    policy_id: UUID
    seq: int


def _view(services: ServicesDep, policy_id: UUID) -> TrustPolicyView:
    return found(services.views.trust.get(str(policy_id)), TrustPolicy.KIND, policy_id)


async def _settled(
    services: ServicesDep, response: Response, result: Committed[TrustPolicy]
) -> None:
    """Wait for the read models: the exchange reads policies from them."""
    committed(response, result)
    await services.runner.wait_for(result.seq, services.settings.read_wait_s)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_policy(
    body: PolicyTerms, services: ServicesDep, command: Command, response: Response
) -> TrustPolicyView:
    policy_id = command.new_id("trust.create")
    result = await services.trust.create(command.cause("trust.create"), policy_id, body)
    await _settled(services, response, result)
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
    command: Command,
    response: Response,
) -> TrustPolicyView:
    """Registrations the policy handed out before the change stop working."""
    result = await services.trust.change(command.cause("trust.change"), policy_id, body)
    await _settled(services, response, result)
    return _view(services, policy_id)


@router.delete("/{policy_id}")
async def delete_policy(
    policy_id: UUID, services: ServicesDep, command: Command, response: Response
) -> PolicyDeleted:
    """Registrations the policy handed out stop working too."""
    result = await services.trust.delete(command.cause("trust.delete"), policy_id)
    await _settled(services, response, result)
    return PolicyDeleted(policy_id=policy_id, seq=result.seq)
