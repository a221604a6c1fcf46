"""What becomes of a ticket (`domain.tickets`): every status, with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.job import Job
from domain.job_status import JobStatus
from domain.tickets import (
    ACK,
    DEAD_LETTERED,
    LABELS_MISSING_DELAY_S,
    Settle,
    Verdict,
    after_change,
    nak,
    put_back,
)
from infra.queue_core import ack_of
from tests.queue_helpers import GIT
from tests.unit.queued_jobs import LATER, T0, claimed, fail, queued


def finished() -> Job:
    job = claimed(queued())
    job.start("agent-1")
    job.complete(JobStatus.SUCCESS, 0)
    return job


def dead() -> Job:
    job = claimed(queued(max_attempts=1))
    fail(job)
    return job


def waiting() -> Job:
    job = claimed(queued(max_attempts=3))
    fail(job)  # back in the queue until LATER
    return job


@pytest.mark.parametrize(
    ("make", "alive", "expected"),
    [
        (finished, False, ACK),
        (dead, False, DEAD_LETTERED),
        (lambda: claimed(queued(lease_s=90)), True, nak(90)),
        (lambda: claimed(queued(lease_s=90)), False, nak(0)),
        (waiting, False, nak((LATER - T0).total_seconds())),
        (queued, False, nak(LABELS_MISSING_DELAY_S)),
    ],
    ids=["finished", "dead-lettered", "held-lease-alive", "held-lease-gone", "not-due", "labels"],
)
def test_a_ticket_a_claim_did_not_take_goes_where_its_job_says(
    make: Callable[[], Job], alive: bool, expected: Verdict
) -> None:
    assert put_back(make(), T0, lease_alive=alive) == expected


def test_a_pending_jobs_ticket_is_acked_away() -> None:
    assert put_back(Job.create(uuid4(), "build", GIT, {}), T0, lease_alive=False) == ACK


def test_after_a_change_the_ticket_follows_the_job() -> None:
    assert after_change(claimed(queued()), T0) is None, "a held job keeps its ticket"
    assert after_change(waiting(), T0) == nak((LATER - T0).total_seconds())
    assert after_change(waiting(), LATER + timedelta(seconds=5)) == nak(0)
    assert after_change(dead(), T0) == DEAD_LETTERED
    assert after_change(finished(), T0) == ACK


def test_a_verdict_is_the_ack_that_carries_it_out() -> None:
    assert ack_of(ACK) == b"+ACK"
    assert ack_of(DEAD_LETTERED) == b"+TERM dead lettered"
    assert ack_of(nak(2.5)) == b'-NAK {"delay":2500000000}'
    assert nak(-3) == Verdict(Settle.NAK, 0.0)
