"""Why a job waits, said in one plain sentence: the first cause that holds (`PRECEDENCE`), or
why it is not waiting at all. Pure, like the facts it says (`projections.waiting`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil

from domain.job_status import FINISHED, JobStatus
from projections.waiting import AgentFact, Situation, WaitFacts, WaitReason, gather, holding

R = WaitReason
NAMED = 3
"""Unavailable agents a sentence names; the facts list more."""
UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


@dataclass(frozen=True)
class Explanation:
    reason: WaitReason
    sentence: str
    holding: tuple[WaitReason, ...]
    """Every cause that holds, `reason` first; empty when nothing holds the job back."""
    facts: WaitFacts | None
    """None for a job that is not queued."""


def explain(state: Situation, now: datetime) -> Explanation:
    spec = state.job.queue
    if state.job.status is not JobStatus.QUEUED or spec is None:
        return Explanation(R.NOT_WAITING, not_waiting(state), (), None)
    facts = gather(state, spec, now)
    held = holding(facts)
    reason = held[0] if held else R.NEXT_UP
    return Explanation(reason, SAY[reason](facts, now), held, facts)


def not_waiting(state: Situation) -> str:
    job = state.job
    match job.status:
        case JobStatus.PENDING:
            return (
                "It is not in the queue: it is pending (created without a queue spec); queueing "
                "it by its job_id, or reporting its start, moves it on."
            )
        case JobStatus.CLAIMED:
            who = f"agent {state.holder}" if state.holder else "an agent"
            return f"It is not waiting: {who} claimed it and is starting it."
        case JobStatus.RUNNING:
            on = f" on agent {state.holder}" if state.holder else ""
            since = f" since {_at(job.started_at)}" if job.started_at else ""
            return f"It is not waiting: it is running{on}{since}."
        case JobStatus.DEAD_LETTERED:
            why = f" ({state.dead_reason})" if state.dead_reason else ""
            return (
                f"It is not waiting: it was dead-lettered{why}; it runs again only when an "
                "operator retries it."
            )
        case status if status in FINISHED:
            when = f" at {_at(job.finished_at)}" if job.finished_at else ""
            return f"It is not waiting: it finished {status.value}{when}."
    return f"It is not waiting: it is {job.status.value}."


def _paused(facts: WaitFacts, _now: datetime) -> str:
    why = f" ({facts.pause_reason})" if facts.pause_reason else ""
    return f"Pool {facts.pool} is paused{why}: it hands out no work until an operator resumes it."


def _scheduled(facts: WaitFacts, now: datetime) -> str:
    assert facts.run_at is not None
    return f"It is scheduled for {_at(facts.run_at)} (run_at), {_until(facts.run_at, now)}."


def _backing_off(facts: WaitFacts, now: datetime) -> str:
    assert facts.retry_at is not None
    return (
        f"It is backing off after attempt {facts.attempts} failed, until "
        f"{_at(facts.retry_at)} ({_until(facts.retry_at, now)})."
    )


def _no_capable_agent(facts: WaitFacts, _now: datetime) -> str:
    if facts.labels and facts.agents_in_pool:
        said = f"No registered agent in pool {facts.pool} has the labels {_labels(facts)}"
    else:
        said = f"No agent is registered in pool {facts.pool}"
    gone = facts.former_agent
    if gone is None:
        return f"{said}."
    left = _at(gone.changed_at)
    return f"{said}; the last one that could run it, {gone.name}, was deregistered at {left}."


def _unavailable(facts: WaitFacts, _now: datetime) -> str:
    named = "; ".join(_state(a) for a in facts.agents[:NAMED])
    more = facts.capable_agents - min(NAMED, len(facts.agents))
    rest = f"; and {_count(more, 'more')}" if more > 0 else ""
    return f"Every agent that could run it is unavailable: {named}{rest}."


def _busy(facts: WaitFacts, _now: datetime) -> str:
    n = facts.available_agents
    who = "The one agent" if n == 1 else f"All {n} agents"
    verb = "is" if n == 1 else "are"
    down = facts.capable_agents - n
    also = f" ({_count(down, 'more')} {_be(down)} unavailable)" if down else ""
    return f"{who} that could run it {verb} busy{also}{_in_line(facts)}."


def _next_up(facts: WaitFacts, _now: datetime) -> str:
    n = facts.free_agents
    have = "has" if n == 1 else "have"
    return (
        f"Nothing holds it back: {_count(n, 'agent')} that could run it {have} a free slot"
        f"{_in_line(facts)}; the next claim should take it."
    )


SAY: dict[WaitReason, Callable[[WaitFacts, datetime], str]] = {
    R.POOL_PAUSED: _paused,
    R.SCHEDULED: _scheduled,
    R.BACKING_OFF: _backing_off,
    R.NO_CAPABLE_AGENT: _no_capable_agent,
    R.AGENTS_UNAVAILABLE: _unavailable,
    R.AGENTS_BUSY: _busy,
    R.NEXT_UP: _next_up,
}


def _in_line(facts: WaitFacts) -> str:
    place = facts.place
    if place is None:
        return ""
    first = []
    if place.higher:
        first.append(f"{_count(place.higher, 'job')} of higher priority")
    if place.older:
        first.append(f"{_count(place.older, 'older job')} of its own")
    ahead = f" ({' and '.join(first)} {_go(place.higher + place.older)} first)" if first else ""
    return f", and it is number {place.position} in line at priority {facts.priority}{ahead}"


def _state(agent: AgentFact) -> str:
    why = f" ({agent.reason})" if agent.reason else ""
    return f"{agent.name} is {agent.status.value}{why}"


def _labels(facts: WaitFacts) -> str:
    return ", ".join(facts.labels)


def _at(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _until(when: datetime, now: datetime) -> str:
    return f"in {_span((when - now).total_seconds())}"


def _span(seconds: float) -> str:
    """Its two largest units, rounded up to the second so a wait still ahead never reads 0 s."""
    left = max(1, ceil(seconds))
    parts = []
    for size, unit in UNITS:
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    return " ".join(parts[:2])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 or noun == "more" else f"{n} {noun}s"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def _go(n: int) -> str:
    return "goes" if n == 1 else "go"
