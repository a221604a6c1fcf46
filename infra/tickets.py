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
from domain.recorded import RecordedEvent
from infra.ack_subject import stream_seq
from infra.codec import decode
from infra.quarantine import Quarantine

SOURCE = "Nats-Stream-Source"
"""`EVENTS <seq> <filter> <transform> <subject> <id>`: where QUEUE copied the ticket from."""


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


def source_seq(msg: Msg) -> int:
    """The ticket's event's sequence in EVENTS; 0 when the ticket does not say."""
    source = (msg.headers or {}).get(SOURCE, "").split(" ")
    return int(source[1]) if len(source) > 1 and source[1].isdigit() else 0


def ticket_event(msg: Msg, key: bytes) -> RecordedEvent | str:
    """The job event behind a ticket, at its EVENTS sequence, or why it is no job ticket."""
    event_subject = event_subject_of(msg.subject)
    if event_subject is None:
        return "not a job ticket"
    try:
        return decode(source_seq(msg), event_subject, msg.data, key)
    except UndecodableEventError as exc:
        return str(exc).split(": ", 1)[-1]


def refusal(msg: Msg, problem: str, rejected: Quarantine) -> bytes:
    """The +TERM for a ticket that is no JetDeck job ticket, recorded in `rejected`."""
    rejected.add(stream_seq(msg), msg.subject, problem)
    return b"+TERM " + problem.encode()[:200]
