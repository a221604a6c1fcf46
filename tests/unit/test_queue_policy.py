"""Queue policies without I/O: priority order, retry backoff, eligibility, the queue spec, the
Job's attempt budget and fencing, and the queue read model's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson
import pydantic
import pytest
from pydantic import ValidationError as PydanticValidationError

from domain.errors import InvalidTransitionError
from domain.job import Job
from domain.job_status import JobStatus
from domain.queue import PRIORITY_ORDER, FailureClass, Priority, QueueSpec, RetryPolicy, eligible
from infra.queue_core import MAX_NAK_DELAY_S, nak
from infra.settings import Settings
from projections.queue import RECENT_COMMANDS, QueueBoard
from tests.conftest import Recorder
from tests.queue_helpers import GIT

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(seconds=10)


def test_priorities_are_asked_highest_first() -> None:
    assert PRIORITY_ORDER == (Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW)


@pytest.mark.parametrize(("attempt", "raw"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (9, 60.0)])
def test_backoff_doubles_per_attempt_up_to_the_cap_and_jitter_spreads_it(
    attempt: int, raw: float
) -> None:
    policy = RetryPolicy(base_s=2, cap_s=60, jitter=0.25)
    assert policy.delay_s(attempt, 0.0) == pytest.approx(raw * 0.75)
    assert policy.delay_s(attempt, 0.5) == pytest.approx(raw)
    assert policy.delay_s(attempt, 0.999999) == pytest.approx(raw * 1.25, rel=1e-5)


def test_backoff_without_jitter_ignores_the_spread() -> None:
    policy = RetryPolicy(base_s=1, cap_s=10, jitter=0)
    assert {policy.delay_s(2, spread) for spread in (0.0, 0.3, 0.9)} == {2.0}


def test_backoff_cap_below_base_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="cap_s"):
        RetryPolicy(base_s=10, cap_s=5)


@pytest.mark.parametrize(
    ("job", "agent", "fits"),
    [
        (set(), set(), True),
        ({"linux"}, {"linux", "gpu"}, True),
        ({"linux", "gpu"}, {"linux"}, False),
    ],
)
def test_an_agent_runs_a_job_only_with_every_label_it_asks_for(
    job: set[str], agent: set[str], fits: bool
) -> None:
    assert eligible(frozenset(job), frozenset(agent)) is fits


@pytest.mark.parametrize(
    "fields",
    [
        {"priority": "urgent"},
        {"pool": "Bad Pool"},
        {"max_attempts": 0},
        {"lease_s": 0},
        {"run_at": "2026-01-01T00:00:00"},
        {"surprise": 1},
    ],
)
def test_queue_spec_refuses_bad_fields(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        QueueSpec.model_validate(fields)


def queued(**spec: Any) -> Job:
    job = Job.create(uuid4(), "build", GIT, {})
    job.queue(QueueSpec(**spec))
    return job


def claimed(job: Job, agent_id: str = "agent-1") -> Job:
    job.claim(agent_id, f"$JS.ACK.{agent_id}.{job.attempts + 1}")
    return job


def fail(job: Job, retryable: bool = True) -> None:
    job.fail("exit 1", FailureClass.SCRIPT, retryable, 1, LATER)


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


def test_board_counts_depth_in_flight_and_dead_letters_per_level() -> None:
    rec, board = Recorder(), QueueBoard()
    jobs = [queued(priority=p) for p in ("high", "high", "high", "low")]
    claimed(jobs[0])
    fail(claimed(jobs[3]), retryable=False)
    for job in jobs:
        for recorded in rec.record(job):
            board.apply(recorded)
    high, low = (next(s for s in board.stats(LATER) if s.priority == p) for p in ("high", "low"))
    assert (high.depth, high.in_flight, high.dead_letters) == (2, 1, 0)
    assert (low.depth, low.in_flight, low.dead_letters) == (0, 0, 1)
    assert [d.job_id for d in board.dead_letters()] == [str(jobs[3].id)]


def test_board_holds_a_unique_key_until_its_job_finishes() -> None:
    rec, board = Recorder(), QueueBoard()
    job = queued(unique_key="nightly")
    for recorded in rec.record(job):
        board.apply(recorded)
    assert board.active_for_key("nightly") == (str(job.id), 1)
    claimed(job).start("agent-1")
    job.complete(JobStatus.SUCCESS, 0)
    for recorded in rec.record(job):
        board.apply(recorded)
    assert board.active_for_key("nightly") == (None, 1)


def test_board_forgets_finished_jobs_but_not_their_pools_or_key_generations() -> None:
    rec, board = Recorder(), QueueBoard()
    done = [queued(unique_key="nightly") for _ in range(3)]
    for job in done:
        claimed(job).start("agent-1")
        job.complete(JobStatus.SUCCESS, 0)
        for recorded in rec.record(job):
            board.apply(recorded)
    waiting = queued(priority="low")
    for recorded in rec.record(waiting):
        board.apply(recorded)

    assert set(board.specs) == set(board.status) == {str(waiting.id)}
    assert board.unique == {}
    assert board.active_for_key("nightly") == (None, 3)
    assert board.pools() == {QueueSpec().pool}
    level = next(s for s in board.stats(LATER) if s.priority == "low")
    assert (level.depth, level.completions_per_min) == (1, 0)
    restored = QueueBoard()
    restored.restore(orjson.loads(orjson.dumps(board.dump())))
    assert restored.dump() == board.dump()


def test_board_remembers_only_the_newest_unique_creations_by_command() -> None:
    board = QueueBoard()
    for n in range(RECENT_COMMANDS + 5):
        board._remember(f"command-{n}", f"job-{n}")
    assert len(board.unique_by_command) == RECENT_COMMANDS
    assert "command-4" not in board.unique_by_command
    assert board.unique_by_command[f"command-{RECENT_COMMANDS + 4}"] == f"job-{RECENT_COMMANDS + 4}"


def test_settings_refuse_a_retry_cap_below_the_base() -> None:
    with pytest.raises(PydanticValidationError, match="RETRY_CAP_S"):
        Settings(retry_base_s=10, retry_cap_s=1)
    with pytest.raises(PydanticValidationError):
        Settings(token_secret="short")


@pytest.mark.parametrize(
    ("delay_s", "expected_ns"),
    [(-5.0, 0), (1.5, 1_500_000_000), (1e12, int(MAX_NAK_DELAY_S * 1e9)), (float("inf"), None)],
)
def test_a_nak_delay_is_clamped_to_what_nats_server_reads(
    delay_s: float, expected_ns: int | None
) -> None:
    delay = orjson.loads(nak(delay_s).removeprefix(b"-NAK "))["delay"]
    assert delay == (int(MAX_NAK_DELAY_S * 1e9) if expected_ns is None else expected_ns)
    assert delay < 2**62  # far from where the server's redelivery time overflows


@pytest.mark.parametrize(
    "fields",
    [{"run_at_horizon_s": 10}, {"retry_cap_s": 10**9}, {"log_follow_max_s": 0}],
)
def test_settings_bound_horizons_delays_and_follows(fields: dict[str, Any]) -> None:
    with pytest.raises(PydanticValidationError):
        Settings(**fields)
