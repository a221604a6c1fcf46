"""What a QUEUE ticket must be before a claim acts on it: a sealed job event, copied from EVENTS.

The server copies `ev.job.<id>.queued.<pool>.<priority>` into QUEUE as `q.<pool>.<priority>.<id>`,
so the ticket's subject gives back the event's subject, which its MAC covers. Anyone who can
publish there can make a ticket; one that is not a JetDeck job ticket is terminated, never
retried, so a pool full of garbage costs one pull each and no claim fails on it.
"""

from __future__ import annotations

from uuid import UUID

from nats.aio.msg import Msg

from domain.errors import UndecodableEventError
from infra.codec import decode
from infra.projection_runner import stream_seq
from infra.quarantine import Quarantine


def event_subject_of(ticket_subject: str) -> str | None:
    """`q.<pool>.<priority>.<id>` → `ev.job.<id>.queued.<pool>.<priority>`; None if not a job's."""
    parts = ticket_subject.split(".")
    if len(parts) != 4 or parts[0] != "q":
        return None
    _, pool, priority, job_id = parts
    try:
        UUID(job_id)
    except ValueError:
        return None
    return f"ev.job.{job_id}.queued.{pool}.{priority}"


def ticket_problem(subject: str, payload: bytes, key: bytes) -> str | None:
    """Why this is no JetDeck job ticket, or None when it is one."""
    event_subject = event_subject_of(subject)
    if event_subject is None:
        return "not a job ticket"
    try:
        decode(0, event_subject, payload, key)
    except UndecodableEventError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


def reject_if_foreign(msg: Msg, key: bytes, rejected: Quarantine) -> bytes | None:
    """The +TERM for a ticket that is no JetDeck job ticket (recorded in `rejected`), or None."""
    problem = ticket_problem(msg.subject, msg.data, key)
    if problem is None:
        return None
    rejected.add(stream_seq(msg), msg.subject, problem)
    return b"+TERM " + problem.encode()[:200]
