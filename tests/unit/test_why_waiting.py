"""Why a job waits, computed on hand-built read-model state: each cause, which one wins when
several hold, the place in line, and the answer for a job that is not waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.agent import AgentStatus
from domain.job_status import JobStatus
from domain.queue import Priority, QueueSpec
from domain.values import GitContext
from projections.agents import PoolView
from projections.jobs import JobView
from projections.queue import Ticket
from projections.waiting import MAX_LISTED, AgentFact, Place, Situation, WaitReason, place
from projections.why_waiting import Explanation, explain

R, S, P = WaitReason, AgentStatus, Priority
T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)
JOB = "0b7e5f4e-2c1d-4a8e-9f3b-6d2a1c0e9b7a"
GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")
DISK = "disk at 96% (unhealthy from 95%)"


def job(status: JobStatus = JobStatus.QUEUED, attempts: int = 0, **spec: Any) -> JobView:
    return JobView(
        job_id=JOB,
        status=status,
        job_type="build",
        git=GIT,
        metadata={},
        created_at=T0,
        queued_at=T0,
        started_at=T0 if status is not JobStatus.QUEUED else None,
        finished_at=NOW if status is JobStatus.SUCCESS else None,
        queue=QueueSpec(**spec),
        attempts=attempts,
        last_seq=1,
    )


def agent(
    name: str,
    status: AgentStatus = S.HEALTHY,
    labels: tuple[str, ...] = (),
    running: int = 0,
    slots: int = 1,
    reason: str = "",
) -> AgentFact:
    return AgentFact(
        agent_id=f"id-{name}",
        name=name,
        labels=labels,
        status=status,
        reason=reason,
        running=running,
        slots=slots,
        changed_at=T0,
    )


def paused(reason: str = "maintenance") -> PoolView:
    return PoolView(
        name="default", min_agents=0, max_agents=10, labels=(), paused=True, pause_reason=reason
    )


def ticket(job_id: str, priority: Priority = P.NORMAL, not_before: float | None = None) -> Ticket:
    at = None if not_before is None else NOW + timedelta(seconds=not_before)
    return Ticket(job_id, priority, at)


def why(
    the_job: JobView | None = None,
    agents: tuple[AgentFact, ...] = (),
    line: tuple[Ticket, ...] | None = None,
    **more: Any,
) -> Explanation:
    """Every job here is of normal priority; alone in line unless `line` says otherwise."""
    line = line if line is not None else (ticket(JOB),)
    return explain(Situation(the_job or job(), agents=agents, line=line, **more), NOW)


FREE = (agent("a1"),)


def test_a_paused_pool_wins_over_every_other_cause() -> None:
    answer = why(job(run_at=NOW + timedelta(minutes=5)), pool=paused())
    assert answer.reason is R.POOL_PAUSED
    assert answer.holding == (R.POOL_PAUSED, R.SCHEDULED, R.NO_CAPABLE_AGENT)
    assert answer.sentence == (
        "Pool default is paused (maintenance): it hands out no work until an operator resumes it."
    )
    assert answer.facts is not None
    assert (answer.facts.pool_paused, answer.facts.pause_reason) == (True, "maintenance")


def test_a_paused_pool_holds_back_a_job_an_idle_agent_could_take() -> None:
    answer = why(agents=FREE, pool=paused(""))
    assert (answer.reason, answer.holding) == (R.POOL_PAUSED, (R.POOL_PAUSED,))
    assert answer.sentence.startswith("Pool default is paused: ")


def test_a_run_at_ahead_says_when_the_job_is_due() -> None:
    answer = why(job(run_at=NOW + timedelta(minutes=5, seconds=30)), agents=FREE)
    assert (answer.reason, answer.holding) == (R.SCHEDULED, (R.SCHEDULED,))
    assert answer.sentence == (
        "It is scheduled for 2026-11-21 14:06:30 UTC (run_at), in 5 min 30 s."
    )
    assert answer.facts is not None
    assert answer.facts.place is None  # not due: it holds no place in line yet


def test_a_scheduled_job_no_agent_can_run_says_the_schedule_and_holds_the_rest() -> None:
    answer = why(job(run_at=NOW + timedelta(hours=2), labels={"gpu"}), agents=FREE)
    assert answer.holding == (R.SCHEDULED, R.NO_CAPABLE_AGENT)
    assert answer.sentence.endswith("(run_at), in 2 h.")


def test_a_backoff_ahead_says_until_when() -> None:
    answer = why(job(attempts=2), agents=FREE, retry_at=NOW + timedelta(seconds=61))
    assert (answer.reason, answer.holding) == (R.BACKING_OFF, (R.BACKING_OFF,))
    assert answer.sentence == (
        "It is backing off after attempt 2 failed, until 2026-11-21 14:02:01 UTC (in 1 min 1 s)."
    )


def test_a_run_at_or_backoff_already_past_holds_nothing() -> None:
    answer = why(
        job(run_at=NOW - timedelta(seconds=1)), agents=FREE, retry_at=NOW - timedelta(seconds=1)
    )
    assert (answer.reason, answer.holding) == (R.NEXT_UP, ())
    assert answer.facts is not None
    assert (answer.facts.run_at, answer.facts.retry_at) == (None, None)


def test_no_agent_with_the_labels_names_them() -> None:
    answer = why(job(labels={"gpu", "cuda"}), agents=(agent("a1", labels=("linux", "gpu")),))
    assert (answer.reason, answer.holding) == (R.NO_CAPABLE_AGENT, (R.NO_CAPABLE_AGENT,))
    assert answer.sentence == "No registered agent in pool default has the labels cuda, gpu."
    assert answer.facts is not None
    assert (answer.facts.agents_in_pool, answer.facts.capable_agents) == (1, 0)


def test_no_agent_in_the_pool_at_all() -> None:
    answer = why(job(pool="mac", labels={"arm64"}))
    assert answer.sentence == "No agent is registered in pool mac."


def test_an_agent_that_had_the_labels_and_left_is_named() -> None:
    gone = agent("g1", S.TERMINATED, labels=("gpu",))
    answer = why(job(labels={"gpu"}), agents=(gone, agent("a1")))
    assert answer.reason is R.NO_CAPABLE_AGENT
    assert answer.sentence == (
        "No registered agent in pool default has the labels gpu; the last one that could run "
        "it, g1, was deregistered at 2026-11-21 14:00:00 UTC."
    )
    assert answer.facts is not None
    assert answer.facts.former_agent == gone


def test_every_capable_agent_unavailable_names_each_and_why() -> None:
    able = (
        agent("a1", S.UNHEALTHY, labels=("gpu",), reason=DISK),
        agent("a2", S.OFFLINE, labels=("gpu",), reason="heartbeat expired"),
        agent("a3", S.DRAINING, labels=("gpu",)),
        agent("a4", S.REGISTERING, labels=("gpu",)),
        agent("a5", S.UNHEALTHY, labels=("gpu",)),
    )
    answer = why(job(labels={"gpu"}), agents=(agent("cpu-only"), *able))
    assert (answer.reason, answer.holding) == (R.AGENTS_UNAVAILABLE, (R.AGENTS_UNAVAILABLE,))
    assert answer.sentence == (
        f"Every agent that could run it is unavailable: a1 is unhealthy ({DISK}); a2 is offline "
        "(heartbeat expired); a3 is draining; and 2 more."
    )
    assert answer.facts is not None
    assert (answer.facts.capable_agents, answer.facts.available_agents) == (5, 0)


def test_a_degraded_agent_still_takes_work() -> None:
    answer = why(agents=(agent("a1", S.DEGRADED, reason="cpu at 90% (degraded from 85%)"),))
    assert answer.reason is R.NEXT_UP


def test_all_busy_gives_the_place_in_line_with_strict_priority_and_fifo_inside_a_level() -> None:
    line = (
        ticket("old-high", P.HIGH),
        ticket("old-normal"),
        ticket("later-normal", not_before=30),  # not due: holds no place
        ticket("old-low", P.LOW),
        ticket(JOB),
        ticket("new-critical", P.CRITICAL),
        ticket("new-normal"),
    )
    agents = (
        agent("a1", running=1),
        agent("a2", S.DEGRADED, running=2, slots=2),
        agent("a3", S.UNHEALTHY, reason=DISK),
    )
    answer = why(agents=agents, line=line)
    assert (answer.reason, answer.holding) == (R.AGENTS_BUSY, (R.AGENTS_BUSY,))
    assert answer.sentence == (
        "All 2 agents that could run it are busy (1 more is unavailable), and it is number 4 in "
        "line at priority normal (2 jobs of higher priority and 1 older job of its own go first)."
    )
    assert answer.facts is not None
    assert answer.facts.place == Place(position=4, higher=2, older=1, due=6)
    assert (answer.facts.available_agents, answer.facts.free_agents) == (2, 0)


def test_the_one_busy_agent_and_the_head_of_the_line() -> None:
    answer = why(agents=(agent("a1", running=1),))
    assert answer.sentence == (
        "The one agent that could run it is busy, and it is number 1 in line at priority normal."
    )


def test_nothing_holding_it_back_says_the_next_claim_takes_it() -> None:
    agents = (agent("a1", running=1, slots=2), agent("a2"))
    line = (ticket("first", P.HIGH), ticket(JOB))
    answer = why(agents=agents, line=line)
    assert (answer.reason, answer.holding) == (R.NEXT_UP, ())
    assert answer.sentence == (
        "Nothing holds it back: 2 agents that could run it have a free slot, and it is number 2 "
        "in line at priority normal (1 job of higher priority goes first); the next claim should "
        "take it."
    )


def test_the_facts_list_only_the_first_capable_agents_but_count_them_all() -> None:
    many = tuple(agent(f"a{n}", running=1) for n in range(MAX_LISTED + 5))
    facts = why(agents=many).facts
    assert facts is not None
    assert (len(facts.agents), facts.capable_agents) == (MAX_LISTED, MAX_LISTED + 5)


def test_place_counts_only_due_jobs_of_the_line() -> None:
    line = (ticket("a", not_before=5), ticket("b", P.LOW), ticket("c"), ticket("d", P.HIGH))
    assert place(line, "c", NOW) == Place(position=2, higher=1, older=0, due=3)
    assert place(line, "b", NOW) == Place(position=3, higher=2, older=0, due=3)
    assert place(line, "a", NOW) is None
    assert place(line, "a", NOW + timedelta(seconds=5)) == Place(
        position=2, higher=1, older=0, due=4
    )


@pytest.mark.parametrize(
    ("status", "holder", "dead_reason", "sentence"),
    [
        (
            JobStatus.RUNNING,
            "a1",
            "",
            "It is not waiting: it is running on agent a1 since 2026-11-21 14:00:00 UTC.",
        ),
        (JobStatus.CLAIMED, "a1", "", "It is not waiting: agent a1 claimed it and is starting it."),
        (
            JobStatus.SUCCESS,
            "a1",
            "",
            "It is not waiting: it finished success at 2026-11-21 14:01:00 UTC.",
        ),
        (
            JobStatus.DEAD_LETTERED,
            None,
            "failure is not retryable: exit 1",
            "It is not waiting: it was dead-lettered (failure is not retryable: exit 1); it runs "
            "again only when an operator retries it.",
        ),
        (
            JobStatus.PENDING,
            None,
            "",
            "It is not in the queue: it is pending (created without a queue spec); queueing it "
            "by its job_id, or reporting its start, moves it on.",
        ),
    ],
)
def test_a_job_that_is_not_queued_is_told_as_not_waiting(
    status: JobStatus, holder: str | None, dead_reason: str, sentence: str
) -> None:
    state = Situation(job(status), holder=holder, dead_reason=dead_reason)
    answer = explain(state, NOW)
    assert (answer.reason, answer.holding, answer.facts) == (R.NOT_WAITING, (), None)
    assert answer.sentence == sentence
