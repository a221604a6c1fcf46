"""The trust policies in force, oldest first, and which ones an issuer and audience select."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from domain.trust import PolicyTerms, TrustPolicy


class TrustPolicyView(PolicyTerms):
    policy_id: str
    created_at: datetime
    created_by: str
    changed_at: datetime
    changed_by: str
    last_seq: int
    """The sequence of the policy's last event: registrations it handed out before then are void."""


class TrustBoard:
    name: ClassVar[str] = "trust"
    kinds: ClassVar[frozenset[str]] = frozenset({TrustPolicy.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset()

    def __init__(self) -> None:
        self.policies: dict[str, TrustPolicyView] = {}
        """In creation order, which decides between two policies that both admit a token."""

    def apply(self, recorded: RecordedEvent) -> None:
        key = recorded.aggregate_id
        match recorded.event:
            case TrustPolicy.Created(terms=terms):
                self.policies[key] = TrustPolicyView(
                    **terms.model_dump(),
                    policy_id=key,
                    created_at=recorded.at,
                    created_by=recorded.cause.actor,
                    changed_at=recorded.at,
                    changed_by=recorded.cause.actor,
                    last_seq=recorded.seq,
                )
            case TrustPolicy.Changed(terms=terms):
                self.policies[key] = self.policies[key].model_copy(
                    update={
                        **dict(terms),
                        "changed_at": recorded.at,
                        "changed_by": recorded.cause.actor,
                        "last_seq": recorded.seq,
                    }
                )
            case TrustPolicy.Deleted():
                del self.policies[key]

    def get(self, policy_id: str) -> TrustPolicyView | None:
        return self.policies.get(policy_id)

    def all(self) -> list[TrustPolicyView]:
        return list(self.policies.values())

    def selecting(self, issuer: str, audience: str) -> list[TrustPolicyView]:
        return [p for p in self.policies.values() if (p.issuer, p.audience) == (issuer, audience)]

    def dump(self) -> Any:
        return [p.model_dump(mode="json") for p in self.policies.values()]

    def restore(self, data: Any) -> None:
        self.policies = {p["policy_id"]: TrustPolicyView.model_validate(p) for p in data}
