"""The Job status machine, driven through its commands from every status they can reach."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from domain.errors import InvalidTransitionError
from domain.job import Job
from domain.job_status import FINISHED, TRANSITIONS, JobStatus
from domain.model import Aggregate
from domain.queue import QueueSpec
from domain.values import GitContext

S = JobStatus
Command = Callable[[Job], None]


def complete_as(status: JobStatus) -> Command:
    def complete(job: Job) -> None:
        job.complete(status, exit_code=0)

    return complete


COMMANDS: dict[str, tuple[JobStatus, Command, type[Aggregate.Event]]] = {
    "queue": (S.QUEUED, lambda job: job.queue(QueueSpec()), Job.Queued),
    "claim": (S.CLAIMED, lambda job: job.claim("agent-1", "$JS.ACK.x"), Job.Claimed),
    "start": (S.RUNNING, lambda job: job.start("agent-1"), Job.Started),
    **{f"complete({s})": (s, complete_as(s), Job.Completed) for s in sorted(FINISHED)},
}
"""Each command with the status it moves a job to and the event it records."""


def allowed(status: JobStatus, name: str) -> bool:
    """TRANSITIONS decides, except that only a new job is queued: the way back to the queue
    from a lease (failure, lost attempt, release) and from a dead letter has commands of its own.
    """
    target = COMMANDS[name][0]
    return target in TRANSITIONS[status] and (name != "queue" or status is S.PENDING)


def paths() -> dict[JobStatus, list[str]]:
    """The shortest command sequence from a new job to each status the commands can reach."""
    found: dict[JobStatus, list[str]] = {S.PENDING: []}
    frontier = [S.PENDING]
    while frontier:
        status = frontier.pop(0)
        for name, (target, _, _) in COMMANDS.items():
            if allowed(status, name) and target not in found:
                found[target] = [*found[status], name]
                frontier.append(target)
    return found


PATHS = paths()
MATRIX = [(status, name) for status in PATHS for name in COMMANDS]
ALLOWED = [(s, n) for s, n in MATRIX if allowed(s, n)]
FORBIDDEN = [
    pytest.param(
        status,
        name,
        id=f"{status}-{name}",
    )
    for status, name in MATRIX
    if not allowed(status, name)
]


def job_in(status: JobStatus) -> Job:
    """A job brought to `status` by real commands, with its events already collected."""
    job = Job.create(uuid4(), "test", GitContext(commit_sha="abc123def456"), {})
    for name in PATHS[status]:
        COMMANDS[name][1](job)
    job.collect_events()
    assert job.status is status
    return job


def test_commands_reach_every_status_but_dead_lettered() -> None:
    assert set(PATHS) == set(JobStatus) - {S.DEAD_LETTERED}


def test_allowed_moves_are_exactly_these() -> None:
    assert sorted(ALLOWED) == sorted(
        [(S.PENDING, n) for n in ("queue", "start", "complete(cancelled)")]
        + [(S.QUEUED, n) for n in ("claim", "complete(cancelled)")]
        + [(S.CLAIMED, f"complete({s})") for s in FINISHED]
        + [(S.CLAIMED, "start")]
        + [(S.RUNNING, f"complete({s})") for s in FINISHED]
    )


@pytest.mark.parametrize(("status", "name"), ALLOWED, ids=[f"{s}-{n}" for s, n in ALLOWED])
def test_allowed_command_moves_job_and_records_one_event(status: JobStatus, name: str) -> None:
    job = job_in(status)
    target, command, event = COMMANDS[name]
    command(job)
    assert job.status is target
    assert [type(e) for e in job.collect_events()] == [event]


@pytest.mark.parametrize(("status", "name"), FORBIDDEN)
def test_forbidden_command_raises_and_names_current_status(status: JobStatus, name: str) -> None:
    job = job_in(status)
    with pytest.raises(InvalidTransitionError, match=f"in status {status}$") as raised:
        COMMANDS[name][1](job)
    assert raised.value.status == status
    assert raised.value.aggregate_id == str(job.id)
    assert job.status is status
    assert job.collect_events() == []


@pytest.mark.parametrize("status", sorted(set(JobStatus) - FINISHED))
def test_complete_refuses_an_outcome_that_does_not_finish_a_job(status: JobStatus) -> None:
    job = job_in(S.RUNNING)
    with pytest.raises(InvalidTransitionError, match="in status running"):
        job.complete(status)
    assert job.status is S.RUNNING
    assert job.collect_events() == []


def test_finished_jobs_never_change_again() -> None:
    assert all(TRANSITIONS[s] == frozenset() for s in FINISHED)


def test_start_and_complete_record_agent_and_outcome() -> None:
    job = job_in(S.PENDING)
    job.start("agent-7")
    job.complete(S.FAILED, exit_code=3, summary="2 tests failed", artifact_urls=("s3://a",))
    started, completed = job.collect_events()
    assert isinstance(started, Job.Started)
    assert started.agent_id == "agent-7"
    assert isinstance(completed, Job.Completed)
    assert (completed.status, completed.exit_code) == (S.FAILED, 3)
    assert (completed.summary, completed.artifact_urls) == ("2 tests failed", ("s3://a",))
    assert job.agent_id == "agent-7"
