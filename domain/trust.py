"""Trust policies: which workloads may register build agents, and in which pool.

Modelled on PyPI's trusted publishers: an OIDC token from `issuer`, minted for `audience`, whose
claims equal `claims`, may register agents in `pool`. Tokens are matched on dedicated claims and
never by parsing `sub`, whose format GitHub changed in 2026.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, TypeVar
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from domain.model import Aggregate
from domain.queue import PoolName
from domain.values import Name

Issuer = Annotated[
    str,
    StringConstraints(
        max_length=300, pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$"
    ),
]
"""HTTPS only: JetDeck fetches the issuer's keys from it."""
Audience = Annotated[str, StringConstraints(min_length=1, max_length=300)]
ClaimName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
ClaimValue = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
RequiredClaims = Annotated[dict[ClaimName, ClaimValue], Field(min_length=1, max_length=32)]

CHECKED_ELSEWHERE = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
"""Registered claims the verifier checks itself; a policy that pinned one would never match."""
CASE_INSENSITIVE = frozenset({"repository", "repository_owner"})
"""GitHub names are case-insensitive; PyPI compares these two the same way."""
REFUSED_EVENTS = frozenset({"pull_request_target"})
"""GitHub runs these for a fork's pull request with the base repository's identity."""


class PolicyTerms(BaseModel):
    """What a policy asks of a token, and the pool it opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    issuer: Issuer
    audience: Audience
    claims: RequiredClaims
    """Exact matches. At least one: every GitHub repository shares one issuer, and anyone can
    ask it for a token with any audience."""
    pool: PoolName

    @field_validator("claims")
    @classmethod
    def _no_registered_claims(cls, claims: dict[str, str]) -> dict[str, str]:
        pinned = sorted(CHECKED_ELSEWHERE.intersection(claims))
        if pinned:
            raise ValueError(f"{', '.join(pinned)} are checked from issuer and audience")
        return claims


class PolicyStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class TrustPolicy(Aggregate):
    KIND = "trust"
    id: UUID

    class Created(Aggregate.Created):
        terms: PolicyTerms

    class Changed(Aggregate.Event):
        terms: PolicyTerms

    class Deleted(Aggregate.Event):
        pass

    @event(Created)
    def __init__(self, terms: PolicyTerms) -> None:
        self.terms = terms
        self.status = PolicyStatus.ACTIVE

    @classmethod
    def create(cls, policy_id: UUID, terms: PolicyTerms) -> TrustPolicy:
        return cls(id=policy_id, terms=terms)  # type: ignore[call-arg]

    def change(self, terms: PolicyTerms) -> None:
        """Setting the terms in force records nothing."""
        if self.status is PolicyStatus.DELETED:
            self._refuse("change")
        if terms != self.terms:
            self._changed(terms=terms)

    def delete(self) -> None:
        """Deleting a deleted policy records nothing."""
        if self.status is PolicyStatus.ACTIVE:
            self._deleted()

    @event(Changed)
    def _changed(self, terms: PolicyTerms) -> None:
        self.terms = terms

    @event(Deleted)
    def _deleted(self) -> None:
        self.status = PolicyStatus.DELETED


def unmet_claim(terms: PolicyTerms, claims: Mapping[str, object]) -> str | None:
    """The first claim of the token that `terms` refuse, or None when they admit it.

    The audience must be a single string: a token for several audiences is one another
    audience's service could replay here."""
    if claims.get("iss") != terms.issuer:
        return "iss"
    if claims.get("aud") != terms.audience:
        return "aud"
    if claims.get("event_name") in REFUSED_EVENTS:
        return "event_name"
    return next(
        (name for name, wanted in sorted(terms.claims.items()) if not _same(name, wanted, claims)),
        None,
    )


def _same(name: str, wanted: str, claims: Mapping[str, object]) -> bool:
    given = claims.get(name)
    if not isinstance(given, str):
        return False
    if name in CASE_INSENSITIVE:
        return given.lower() == wanted.lower()
    return given == wanted


P = TypeVar("P", bound=PolicyTerms)


def admitting(policies: Iterable[P], claims: Mapping[str, object]) -> P | None:
    """The first policy that admits the token: callers list policies oldest first, so adding
    a policy never changes which pool an already admitted workload lands in."""
    return next((p for p in policies if unmet_claim(p, claims) is None), None)
