"""The stored form of events: round trip, upcasting, refusing garbage, and the hash chain."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID, uuid4

import orjson
import pytest

from domain import catalog
from domain.deployment import Deployment, Environment, Outcome
from domain.errors import UndecodableEventError
from domain.job import Job
from domain.job_status import JobStatus
from domain.model import DomainEvent, upcast
from domain.recorded import GENESIS, Cause, RecordedEvent, chain_hash
from domain.values import GitContext
from infra.audit import chain_links
from infra.codec import decode, encode
from infra.event_store import StoredMessage
from tests.conftest import CAUSE, Recorder

GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456", author="a@example.com")


def pending(*aggregates: Job | Deployment) -> list[DomainEvent]:
    events: list[DomainEvent] = [
        e for a in aggregates for e in a.collect_events() if isinstance(e, DomainEvent)
    ]
    assert events
    return events


def job_events() -> list[DomainEvent]:
    job = Job.create(uuid4(), "test", GIT, {"k": "v"})
    job.start("agent-1")
    job.complete(JobStatus.SUCCESS, 0, "ok", "https://logs/1", ("https://a/1",))
    return pending(job)


def deployment_events() -> list[DomainEvent]:
    old, new, failed = (Deployment.create(uuid4(), "api", v, GIT) for v in ("v1", "v2", "v3"))
    for deployment in (old, new):
        deployment.advance(Environment.STAGING, Outcome.SUCCEEDED, metrics={"p99": 1.5})
        deployment.advance(Environment.PRODUCTION, Outcome.SUCCEEDED)
    old.supersede(new.id)
    new.roll_back("errors", old)
    old.restore(new.id)
    failed.advance(Environment.STAGING, Outcome.FAILED, "smoke")
    return pending(old, new, failed)


def decoded(stored: list[StoredMessage]) -> list[RecordedEvent]:
    return [decode(m.seq, m.subject, m.payload) for m in stored]


def job_lifecycle() -> Recorder:
    rec = Recorder()
    job = Job.create(uuid4(), "test", GIT, {})
    job.start("agent-1")
    job.complete(JobStatus.SUCCESS, 0)
    rec.record(job)
    return rec


# Round trip


def test_every_job_and_deployment_event_survives_a_round_trip() -> None:
    events = job_events() + deployment_events()
    deployment_names = {n for n in catalog.EVENT_TYPES if n.startswith("deployment.")}
    job_names = {"job.Created", "job.Started", "job.Completed"}
    assert {catalog.EVENT_NAMES[type(e)] for e in events} == deployment_names | job_names
    for event in events:
        kind = catalog.EVENT_NAMES[type(event)].split(".")[0]
        subject = f"ev.{kind}.{event.originator_id}.{event.subject_token()}"
        again = decode(1, subject, encode(event, CAUSE, GENESIS)).event
        assert again == event
        assert type(again) is type(event)


def test_decode_gives_name_cause_position_and_hash() -> None:
    cause = Cause(actor="alice", command_id="c-9", action="job.start", correlation_id="x")
    event = job_events()[1]
    payload, subject = encode(event, cause, "a" * 64), f"ev.job.{event.originator_id}.started"
    recorded = decode(41, subject, payload)
    assert (recorded.seq, recorded.subject, recorded.kind, recorded.type) == (
        41,
        subject,
        "job",
        "job.Started",
    )
    assert recorded.aggregate_id == str(event.originator_id)
    assert (recorded.cause, recorded.prev) == (cause, "a" * 64)
    assert recorded.hash == chain_hash(subject, payload)
    assert (recorded.aggregate_id, recorded.at) == (str(event.originator_id), event.timestamp)
    # decode builds both tuples with tuple.__new__, which checks no arity: a field added to
    # either must be filled there too.
    assert len(recorded) == len(RecordedEvent._fields)
    assert len(recorded.cause) == len(Cause._fields)


def test_envelope_carries_name_version_and_cause_in_the_payload() -> None:
    envelope = orjson.loads(job_lifecycle().stored[0].payload)
    assert (envelope["type"], envelope["prev"]) == ("job.Created", GENESIS)
    assert envelope["v"] == Job.Created.class_version
    assert (envelope["actor"], envelope["command_id"]) == (CAUSE.actor, CAUSE.command_id)


# Upcasting


class Renamed(DomainEvent):
    """A test event whose v1 had `name`; v2 split it, v3 added `reason`."""

    class_version: ClassVar[int] = 3
    first: str
    last: str
    reason: str

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        first, _, last = data.pop("name").partition(" ")
        return data | {"first": first, "last": last}

    @staticmethod
    def upcast_v2_v3(data: dict[str, Any]) -> dict[str, Any]:
        return data | {"reason": "unknown"}


BASE = {
    "originator_id": str(UUID(int=1)),
    "originator_version": 2,
    "timestamp": "2025-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("version", "data"),
    [
        (1, BASE | {"name": "Ada Lovelace"}),
        (2, BASE | {"first": "Ada", "last": "Lovelace"}),
        (3, BASE | {"first": "Ada", "last": "Lovelace", "reason": "unknown"}),
    ],
)
def test_upcast_lifts_old_payloads_step_by_step(version: int, data: dict[str, Any]) -> None:
    lifted = upcast(Renamed, dict(data), version)
    assert Renamed.model_validate(lifted) == Renamed.model_validate(
        BASE | {"first": "Ada", "last": "Lovelace", "reason": "unknown"}
    )


def test_an_event_on_another_kind_of_subject_is_undecodable() -> None:
    event = job_events()[0]
    payload = encode(event, CAUSE, GENESIS)
    with pytest.raises(UndecodableEventError, match="on a deployment subject"):
        decode(1, f"ev.deployment.{event.originator_id}.created", payload)
    with pytest.raises(UndecodableEventError):
        decode(1, "ev.job", payload)


def test_decode_upcasts_a_stored_v1_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(catalog.EVENT_TYPES, "job.Renamed", Renamed)
    old = {"type": "job.Renamed", "v": 1, "data": BASE | {"name": "Ada Lovelace"}}
    payload = orjson.dumps(old | envelope_cause())
    recorded = decode(1, "ev.job.1.renamed", payload)
    assert isinstance(recorded.event, Renamed)
    assert (recorded.event.first, recorded.event.last) == ("Ada", "Lovelace")
    assert recorded.event.reason == "unknown"


def envelope_cause() -> dict[str, str]:
    return {"actor": "a", "command_id": "c", "action": "x", "correlation_id": "c", "prev": GENESIS}


# Garbage


def valid_envelope() -> dict[str, Any]:
    envelope: dict[str, Any] = orjson.loads(job_lifecycle().stored[0].payload)
    return envelope


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"garbage",
        b"[1, 2]",
        b'"text"',
        orjson.dumps(valid_envelope() | {"type": "job.Unknown"}),
        orjson.dumps(valid_envelope() | {"data": {"job_type": "test"}}),
        orjson.dumps(valid_envelope() | {"data": None}),
        orjson.dumps({k: v for k, v in valid_envelope().items() if k != "actor"}),
        orjson.dumps({k: v for k, v in valid_envelope().items() if k != "v"}),
        orjson.dumps(valid_envelope() | {"v": 0}),
    ],
    ids=[
        "empty",
        "not json",
        "a list",
        "a string",
        "unknown type",
        "missing fields",
        "null data",
        "no actor",
        "no version",
        "version below 1",
    ],
)
def test_undecodable_payload_raises(payload: bytes) -> None:
    with pytest.raises(UndecodableEventError, match=r"^event 7 on ev\.job\.x\.y: "):
        decode(7, "ev.job.x.y", payload)


# Hash chain


def chained() -> list[StoredMessage]:
    return job_lifecycle().stored


def test_chain_of_untouched_events_is_valid() -> None:
    history = decoded(chained())
    assert all(chain_links(history))
    assert [r.prev for r in history] == [GENESIS, history[0].hash, history[1].hash]


def test_chain_detects_a_tampered_event() -> None:
    stored = chained()
    first = stored[0]
    stored[0] = StoredMessage(first.seq, first.subject, first.payload.replace(b"abc123", b"fff123"))
    tampered = decoded(stored)
    assert isinstance(tampered[0].event, Job.Created)
    assert tampered[0].event.git.commit_sha == "fff123def456"
    assert not all(chain_links(tampered))


def test_chain_detects_a_changed_prev() -> None:
    stored = chained()
    envelope = orjson.loads(stored[1].payload) | {"prev": "f" * 64}
    stored[1] = StoredMessage(stored[1].seq, stored[1].subject, orjson.dumps(envelope))
    assert not all(chain_links(decoded(stored)))


def test_chain_links_show_where_the_chain_breaks() -> None:
    stored = chained()
    assert chain_links(decoded(stored)) == [True, True, True]
    envelope = orjson.loads(stored[1].payload) | {"prev": "f" * 64}
    stored[1] = StoredMessage(stored[1].seq, stored[1].subject, orjson.dumps(envelope))
    # The hash covers prev, so the next event no longer names the changed one's hash either.
    assert chain_links(decoded(stored)) == [True, False, False]


@pytest.mark.parametrize("order", [(1, 0, 2), (0, 2, 1), (2, 1, 0), (1, 2), (0, 2)], ids=str)
def test_chain_detects_reordered_or_missing_events(order: tuple[int, ...]) -> None:
    history = decoded(chained())
    assert not all(chain_links([history[i] for i in order]))


def test_chain_must_start_at_genesis() -> None:
    assert not all(chain_links(decoded(chained())[1:]))
