"""A queued job's attempt budget without I/O: retries, dead letters, retry rules by exit code,
and the fencing that lets only the current claim act."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from domain.errors import InvalidTransitionError
from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import FailureClass, QueueSpec
from tests.unit.queued_jobs import LATER, T0, claimed, fail, queued


def test_retryable_failure_with_budget_left_queues_the_job_until_retry_at() -> None:
    job = claimed(queued(max_attempts=2))
    fail(job)
    assert (job.status, job.attempts, job.not_before) == (JobStatus.QUEUED, 1, LATER)
    assert not job.due(T0)
    assert job.due(LATER)


def test_failure_on_the_last_attempt_dead_letters_the_job() -> None:
    job = claimed(queued(max_attempts=2))
    fail(job)
    fail(claimed(job, "agent-2"))
    assert (job.status, job.attempts) == (JobStatus.DEAD_LETTERED, 2)
    *_, failed, dead = job.collect_events()
    assert isinstance(failed, Job.Failed)
    assert failed.retry_at is None
    assert isinstance(dead, Job.DeadLettered)
    assert dead.reason == "attempt budget exhausted: exit 1"


def test_non_retryable_failure_dead_letters_at_once() -> None:
    job = claimed(queued(max_attempts=5))
    fail(job, retryable=False)
    dead = job.collect_events()[-1]
    assert isinstance(dead, Job.DeadLettered)
    assert (dead.reason, dead.attempts) == ("failure is not retryable: exit 1", 1)


def test_a_lost_attempt_counts_against_the_budget_and_a_release_does_not() -> None:
    job = claimed(queued(max_attempts=2))
    job.release()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    claimed(job).lose_attempt("lease expired", LATER)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    claimed(job).lose_attempt("lease expired", LATER)
    assert job.status is JobStatus.DEAD_LETTERED


def test_a_retried_dead_letter_gets_a_fresh_budget() -> None:
    job = claimed(queued(max_attempts=1))
    fail(job)
    job.requeue("operator")
    assert (job.status, job.attempts, job.not_before) == (JobStatus.QUEUED, 0, None)
    with pytest.raises(InvalidTransitionError, match="retry"):
        job.requeue("again")


def exits(job: Job, code: int, retryable: bool = True) -> None:
    job.fail(f"exited with {code}", FailureClass.SCRIPT, retryable, code, LATER)


@pytest.mark.parametrize(
    "retry",
    [
        {"exit_codes": []},
        {"exit_codes": [0]},
        {"exit_codes": [256]},
        {"exit_codes": [-1]},
        {"exit_codes": list(range(1, 34))},
        {"exit_codes": ["one"]},
        {"exit_codes": [1], "max_attempts": 0},
        {"exit_codes": [1], "max_attempts": 101},
        {"exit_codes": [1], "limit": 2},
    ],
)
def test_a_retry_rule_is_bounded(retry: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        QueueSpec.model_validate({"retry": retry})


def test_a_retry_rule_stores_its_codes_sorted_once() -> None:
    spec = QueueSpec.model_validate({"retry": {"exit_codes": [3, 1, 3, 255]}})
    assert spec.retry is not None
    assert spec.retry.exit_codes == (1, 3, 255)


def test_a_covered_exit_code_is_retried_until_the_rules_limit_then_fails_for_good() -> None:
    job = claimed(queued(max_attempts=5, retry={"exit_codes": [1, 3], "max_attempts": 2}))
    exits(job, 3)
    assert (job.status, job.attempts, job.not_before) == (JobStatus.QUEUED, 1, LATER)
    exits(claimed(job, "agent-2"), 1)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    failed, _, ended = job.collect_events()[-3:]
    assert isinstance(failed, Job.Failed)
    assert failed.retry_at == LATER
    assert isinstance(ended, Job.Completed)
    assert (ended.status, ended.exit_code, ended.summary) == (JobStatus.FAILED, 1, "exited with 1")


def test_a_rule_without_its_own_limit_uses_the_jobs_budget() -> None:
    job = claimed(queued(max_attempts=2, retry={"exit_codes": [1]}))
    exits(job, 1)
    exits(claimed(job), 1)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)


def test_an_exit_code_the_rule_does_not_cover_follows_the_jobs_budget() -> None:
    job = claimed(queued(max_attempts=1, retry={"exit_codes": [1], "max_attempts": 3}))
    exits(job, 2)
    assert job.status is JobStatus.DEAD_LETTERED


def test_lost_attempts_follow_the_jobs_budget_whatever_the_rule() -> None:
    job = claimed(queued(max_attempts=1, retry={"exit_codes": [1], "max_attempts": 3}))
    job.lose_attempt("lease expired", LATER)
    assert job.status is JobStatus.DEAD_LETTERED


def test_a_covered_exit_code_reported_as_final_fails_at_once() -> None:
    job = claimed(queued(retry={"exit_codes": [1]}))
    exits(job, 1, retryable=False)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)


TICKET = "$JS.ACK.agent-1.1"


@pytest.mark.parametrize(
    ("agent_id", "attempt", "ticket"),
    [("agent-2", 1, TICKET), ("agent-1", 2, TICKET), ("agent-1", 0, TICKET), ("agent-1", 1, "x")],
)
def test_only_the_current_claim_may_act(agent_id: str, attempt: int, ticket: str) -> None:
    job = claimed(queued())
    job.require_lease("agent-1", 1, TICKET)
    with pytest.raises(InvalidTransitionError):
        job.require_lease(agent_id, attempt, ticket)


def test_a_claim_given_back_and_taken_again_is_a_new_claim() -> None:
    job = claimed(queued())
    job.release()
    job.claim("agent-1", "$JS.ACK.agent-1.again")
    with pytest.raises(InvalidTransitionError):
        job.require_lease("agent-1", 1, TICKET)
    job.require_lease("agent-1", 1, "$JS.ACK.agent-1.again")


def test_a_job_that_is_queued_or_finished_holds_no_lease() -> None:
    job = queued()
    with pytest.raises(InvalidTransitionError):
        job.require_lease("agent-1", 0, TICKET)
    claimed(job).cancel("stop")
    with pytest.raises(InvalidTransitionError):
        job.require_lease("agent-1", 1, TICKET)
