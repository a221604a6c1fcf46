"""Queue policies without I/O: priority order, retry backoff, eligibility, the queue spec, the
queue read model's figures and the queue's settings (the attempt budget: test_attempt_budget.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest
from pydantic import ValidationError as PydanticValidationError

from domain.job_status import JobStatus
from domain.queue import PRIORITY_ORDER, Priority, QueueSpec, RetryPolicy, eligible
from infra.queue_core import MAX_NAK_DELAY_S, nak
from infra.settings import Settings
from projections.queue import RECENT_COMMANDS, QueueBoard
from tests.conftest import Recorder
from tests.unit.queued_jobs import LATER, claimed, fail, queued


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
