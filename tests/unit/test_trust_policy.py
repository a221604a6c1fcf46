"""Trust policies: which token claims they admit (PyPI's rules), their events, their read model."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError as SchemaError

from domain.errors import InvalidTransitionError
from domain.trust import PolicyTerms, TrustPolicy, admitting, unmet_claim
from projections.trust import TrustBoard
from tests.conftest import Recorder

ISSUER = "https://token.actions.githubusercontent.com"
TERMS = PolicyTerms(
    name="octo",
    issuer=ISSUER,
    audience="jetdeck",
    claims={
        "repository": "octo-org/octo-repo",
        "repository_owner_id": "123456",
        "ref": "refs/heads/main",
    },
    pool="linux",
)


def token(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": "jetdeck",
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_owner_id": "123456",
        "ref": "refs/heads/main",
        "event_name": "push",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def test_a_token_with_every_required_claim_is_admitted() -> None:
    assert unmet_claim(TERMS, token()) is None


@pytest.mark.parametrize("claim", ["repository", "repository_owner"])
def test_repository_names_compare_without_case(claim: str) -> None:
    terms = TERMS.model_copy(update={"claims": {claim: "Octo-Org/Octo-Repo"}})
    assert unmet_claim(terms, token(**{claim: "octo-org/octo-repo"})) is None


@pytest.mark.parametrize(
    ("changes", "unmet"),
    [
        ({"repository": "evil/octo-repo"}, "repository"),
        ({"repository_owner_id": "999"}, "repository_owner_id"),
        ({"ref": "refs/heads/Main"}, "ref"),  # everything but repository names is exact
        ({"ref": "refs/heads/feature"}, "ref"),
        ({"ref": None}, "ref"),
        ({"repository_owner_id": 123456}, "repository_owner_id"),  # not a string
        ({"event_name": "pull_request_target"}, "event_name"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "other"}, "aud"),
        ({"aud": ["jetdeck", "other"]}, "aud"),
    ],
)
def test_a_token_missing_a_claim_is_refused_naming_it(changes: dict[str, Any], unmet: str) -> None:
    assert unmet_claim(TERMS, token(**changes)) == unmet


def test_the_oldest_admitting_policy_decides() -> None:
    other = TERMS.model_copy(update={"claims": {"repository": "else/where"}, "pool": "arm"})
    wide = TERMS.model_copy(update={"claims": {"repository_owner_id": "123456"}, "pool": "mac"})
    assert admitting([other, TERMS, wide], token()) is TERMS
    assert admitting([other], token()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"claims": {}},  # every GitHub repository could register agents
        {"claims": {"aud": "jetdeck"}},
        {"claims": {"jti": "x"}},
        {"issuer": "http://token.actions.githubusercontent.com"},
        {"issuer": "https://evil.example/?x=1"},
        {"pool": "Not A Pool"},
        {"audience": ""},
    ],
)
def test_terms_that_could_never_work_or_would_admit_anyone_are_refused(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(SchemaError):
        PolicyTerms.model_validate(TERMS.model_dump() | changes)


def test_changes_are_events_and_a_deleted_policy_cannot_change() -> None:
    policy = TrustPolicy.create(uuid4(), TERMS)
    policy.change(TERMS)
    policy.change(TERMS.model_copy(update={"pool": "arm"}))
    policy.delete()
    policy.delete()
    events = policy.collect_events()
    assert [type(e) for e in events] == [
        TrustPolicy.Created,
        TrustPolicy.Changed,
        TrustPolicy.Deleted,
    ]
    with pytest.raises(InvalidTransitionError, match="deleted"):
        policy.change(TERMS)


def test_the_read_model_follows_policies_and_selects_by_issuer_and_audience() -> None:
    recorder, board = Recorder(), TrustBoard()
    first, second = TrustPolicy.create(uuid4(), TERMS), TrustPolicy.create(uuid4(), TERMS)
    for policy in (first, second):
        for recorded in recorder.record(policy):
            board.apply(recorded)
    first.change(TERMS.model_copy(update={"pool": "arm"}))
    second.delete()
    for policy in (first, second):
        for recorded in recorder.record(policy):
            board.apply(recorded)
    (view,) = board.selecting(ISSUER, "jetdeck")
    assert (view.policy_id, view.pool, view.last_seq) == (str(first.id), "arm", 3)
    assert board.selecting(ISSUER, "other") == []
    restored = TrustBoard()
    restored.restore(board.dump())
    assert restored.all() == board.all()
