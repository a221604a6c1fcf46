"""Trust policy commands: an admin creates, changes or deletes one, and the event names them."""

from __future__ import annotations

from uuid import UUID

from domain.commands.results import Committed
from domain.recorded import Cause
from domain.trust import PolicyTerms, TrustPolicy
from infra.commands import CommandRunner
from infra.unit_of_work import UnitOfWork


class TrustPolicyService:
    def __init__(self, commands: CommandRunner) -> None:
        self.commands = commands

    async def create(
        self, cause: Cause, policy_id: UUID, terms: PolicyTerms
    ) -> Committed[TrustPolicy]:
        async def make(_: UnitOfWork) -> TrustPolicy:
            return TrustPolicy.create(policy_id, terms)

        return await self.commands.create(cause, make)

    async def change(
        self, cause: Cause, policy_id: UUID, terms: PolicyTerms
    ) -> Committed[TrustPolicy]:
        async def decide(_: UnitOfWork, policy: TrustPolicy) -> None:
            policy.change(terms)

        return await self.commands.update(cause, TrustPolicy, policy_id, decide)

    async def delete(self, cause: Cause, policy_id: UUID) -> Committed[TrustPolicy]:
        async def decide(_: UnitOfWork, policy: TrustPolicy) -> None:
            policy.delete()

        return await self.commands.update(cause, TrustPolicy, policy_id, decide)
