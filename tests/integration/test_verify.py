"""The verifier against forgeries made with raw nats-py, as an attacker with stream rights would.

The admin credential stands in for the attacker: it can publish on `ev.>` and delete and
recreate EVENTS (deny_delete and deny_purge stop neither). Deleting a single message needs a
stream without deny_delete, so that test recreates EVENTS without it from a copy of the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.client import Client

from domain.recorded import GENESIS, chain_hash
from infra.codec import content_of, seal
from infra.commands import CommandRunner
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore, StoredMessage
from infra.layout import EVENTS, events_stream
from infra.verify import VerifyReport, verify_log, writer_key
from tests.integration.helpers import complete_job, create_job, start_job
from tests.queue_helpers import eventually
from workers.checkpointer import Checkpointer

JOBS = 6
SIGNER = Ed25519PrivateKey.generate()


@pytest.fixture
async def admin(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await connect(fresh_server.admin_url, "attacker")
    yield client
    await client.close()


@pytest.fixture
async def log(nc: Client, commands: CommandRunner) -> list[StoredMessage]:
    """Jobs created, started and finished, then a signed checkpoint of all of it."""
    for _ in range(JOBS):
        job_id = (await create_job(commands)).aggregate.id
        await start_job(commands, job_id)
        await complete_job(commands, job_id)
    messages = await EventStore(nc).load("ev.>")
    checkpointer = Checkpointer(nc, SIGNER, await writer_key(nc), 10_000, 3600)
    await checkpointer.start()

    async def caught_up() -> bool:
        return checkpointer.position == messages[-1].seq

    await eventually(caught_up, 10, "the checkpointer read the log")
    assert await checkpointer.write() is not None
    await checkpointer.stop()
    return messages


async def verify(nc: Client, key: bytes | None = None) -> VerifyReport:
    key = key if key is not None else await writer_key(nc)
    return await verify_log(nc, writer_key=key, public_key=SIGNER.public_key())


def kinds(report: VerifyReport) -> set[str]:
    return {f.kind for f in report.findings}


async def recreate(admin: Client, messages: list[StoredMessage], deny_delete: bool = True) -> None:
    js = admin.jetstream()
    await js.delete_stream(EVENTS)
    config = events_stream(1)
    config.deny_delete = deny_delete
    await js.add_stream(config)
    for m in messages:
        await js.publish(m.subject, m.payload)


Envelope = dict[str, Any]


def rechained(
    messages: list[StoredMessage], key: bytes, edit: Callable[[Envelope], None]
) -> list[StoredMessage]:
    """The log with the first job's first event edited and every later link of that job
    recomputed: internally consistent, sealed with `key`."""
    target = messages[0].subject.rsplit(".", 1)[0]
    out: list[StoredMessage] = []
    prev = GENESIS
    for m in messages:
        if not m.subject.startswith(target + "."):
            out.append(m)
            continue
        envelope = orjson.loads(content_of(m.payload))
        if prev == GENESIS:
            edit(envelope)
        envelope["prev"] = prev
        content = orjson.dumps(envelope)
        prev = chain_hash(m.subject, content)
        out.append(StoredMessage(m.seq, m.subject, seal(m.subject, content, key)))
    return out


def retype(envelope: Envelope) -> None:
    envelope["data"]["job_type"] = "forged"


async def test_a_clean_log_verifies(nc: Client, log: list[StoredMessage]) -> None:
    seen: list[int] = []
    report = await verify_log(
        nc, writer_key=await writer_key(nc), public_key=SIGNER.public_key(), progress=seen.append
    )
    assert report.ok, report.findings
    assert (report.events, report.first_seq, report.last_seq) == (len(log), 1, log[-1].seq)
    assert report.checkpoints == 1


async def test_a_forged_event_on_an_existing_subject_fails_its_mac(
    nc: Client, admin: Client, log: list[StoredMessage]
) -> None:
    last = log[-1]
    envelope = orjson.loads(content_of(last.payload))
    envelope["prev"] = chain_hash(last.subject, content_of(last.payload))
    envelope["data"]["originator_version"] += 1
    forged = orjson.dumps(envelope)
    ack = await admin.jetstream().publish(last.subject, seal(last.subject, forged, b"x" * 32))
    report = await verify(nc)
    assert [(f.kind, f.seq) for f in report.findings] == [("mac", ack.seq)]


async def test_a_deleted_message_is_a_gap_a_chain_break_and_a_root_mismatch(
    nc: Client, admin: Client, log: list[StoredMessage]
) -> None:
    await recreate(admin, log, deny_delete=False)
    await admin.jetstream().delete_msg(EVENTS, 2)  # the first job's Started
    report = await verify(nc)
    assert {"gap", "chain", "order", "checkpoint-root"} <= kinds(report)
    gap = next(f for f in report.findings if f.kind == "gap")
    assert (gap.expected, gap.found) == ("2", "3")


async def test_a_truncated_log_falls_short_of_its_checkpoint(
    nc: Client, admin: Client, log: list[StoredMessage]
) -> None:
    await recreate(admin, log[:-3])
    report = await verify(nc)
    assert kinds(report) == {"truncated"}


async def test_a_rewrite_without_the_writer_key_fails_the_macs(
    nc: Client, admin: Client, log: list[StoredMessage]
) -> None:
    await recreate(admin, rechained(log, b"not the writer key" * 2, retype))
    report = await verify(nc)
    assert {"mac", "checkpoint-root"} == kinds(report)
    assert len([f for f in report.findings if f.kind == "mac"]) == 3


async def test_a_rewrite_with_the_stolen_writer_key_only_the_checkpoint_catches(
    nc: Client, admin: Client, log: list[StoredMessage]
) -> None:
    await recreate(admin, rechained(log, await writer_key(nc), retype))
    report = await verify(nc)
    assert kinds(report) == {"checkpoint-root"}


async def test_a_checkpoint_signed_by_another_key_is_reported(
    nc: Client, log: list[StoredMessage]
) -> None:
    report = await verify_log(
        nc,
        writer_key=await writer_key(nc),
        public_key=Ed25519PrivateKey.generate().public_key(),
    )
    assert kinds(report) == {"checkpoint-signature"}
    assert report.checkpoints == 0


async def test_a_part_of_the_log_resumes_from_a_checkpoint(
    nc: Client, commands: CommandRunner, log: list[StoredMessage]
) -> None:
    await create_job(commands, uuid4())
    report = await verify_log(
        nc, writer_key=await writer_key(nc), public_key=None, from_seq=log[-1].seq + 1
    )
    assert report.ok, report.findings
    assert (report.first_seq, report.events) == (log[-1].seq + 1, 1)
    one = log[0].subject.split(".")
    alone = await verify_log(
        nc, writer_key=await writer_key(nc), public_key=None, aggregate=f"{one[1]}.{one[2]}"
    )
    assert alone.ok
    assert alone.events == 3


async def test_a_restarted_checkpointer_resumes_from_its_last_checkpoint(
    nc: Client, commands: CommandRunner, log: list[StoredMessage]
) -> None:
    await create_job(commands, uuid4())
    checkpointer = Checkpointer(nc, SIGNER, await writer_key(nc), 10_000, 3600)
    await checkpointer.start()
    assert checkpointer.written == log[-1].seq  # resumed: nothing before it is read again

    async def caught_up() -> bool:
        return checkpointer.position == log[-1].seq + 1

    await eventually(caught_up, 10, "the checkpointer read the new event")
    second = await checkpointer.write()
    await checkpointer.stop()
    assert second is not None
    assert second.size == len(log) + 1
    report = await verify(nc)
    assert report.ok, report.findings
    assert report.checkpoints == 2
