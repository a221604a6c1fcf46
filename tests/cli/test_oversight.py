"""`jetdeck audit verify`, `audit pubkey`, `replay` and `rebuild` over the verifier and time-travel
libraries, end to end against a real nats-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.checkpoints import public_key_text, signing_key
from infra.codec import content_of, seal
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from infra.verify import writer_key
from tests.api.helpers import complete_job, create_job, go_live, start_job
from tests.cli.conftest import jetdeck
from tests.queue_helpers import eventually
from workers.checkpointer import Checkpointer


async def test_verify_passes_a_clean_log_and_fails_a_forged_one(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    url, data_dir = fresh_server.url, tmp_path
    clean = await jetdeck("audit", "verify", "--nats-url", url, "--data-dir", data_dir, "--json")
    assert clean.exit_code == 0, clean.output
    report = orjson.loads(clean.stdout)
    assert report["ok"] is True
    assert report["events"] >= 2

    nc = await nats.connect(url)
    last = (await EventStore(nc).load(f"ev.job.{job_id}.>"))[-1]
    forged = seal(last.subject, content_of(last.payload), b"x" * 32)
    await nc.jetstream().publish(last.subject, forged)
    await nc.close()

    found = await jetdeck("audit", "verify", "--nats-url", url, "--data-dir", data_dir, "--json")
    assert found.exit_code == 1
    assert "mac" in {f["kind"] for f in orjson.loads(found.stdout)["findings"]}
    table = await jetdeck("audit", "verify", "--nats-url", url, "--data-dir", data_dir)
    assert table.exit_code == 1
    assert "findings" in table.stdout
    one = await jetdeck("audit", "verify", "--nats-url", url, "--data-dir", data_dir,
                        "--aggregate", f"job/{job_id}", "--to-seq", last.seq)  # fmt: skip
    assert one.exit_code == 0, one.output


async def test_pubkey_prints_this_machines_signing_key(
    fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    public = signing_key(tmp_path, None).public_key()
    found = await jetdeck("audit", "pubkey", "--nats-url", fresh_server.url, "--data-dir",
                          tmp_path, "--json")  # fmt: skip
    assert found.exit_code == 0, found.output
    assert orjson.loads(found.stdout) == {"public_key": public_key_text(public)}
    none = await jetdeck("audit", "pubkey", "--nats-url", fresh_server.url, "--data-dir",
                         tmp_path / "empty")  # fmt: skip
    assert none.exit_code == 1


async def test_replay_prints_the_state_at_a_sequence(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer
) -> None:
    job_id = (await create_job(client))["job_id"]
    created = (await jetdeck("audit", "log", "--nats-url", fresh_server.url, "--json",
                             "--aggregate", f"job/{job_id}")).stdout  # fmt: skip
    at_creation = orjson.loads(created.splitlines()[0])["seq"]
    await start_job(client, job_id)
    await complete_job(client, job_id)
    await go_live(client)
    url = fresh_server.url

    then = await jetdeck("replay", "--nats-url", url, "--as-of", at_creation, "jobs", "--json")
    assert then.exit_code == 0, then.output
    past = orjson.loads(then.stdout)
    assert past["as_of_seq"] == at_creation
    assert [(j["job_id"], j["status"]) for j in past["jobs"]] == [(job_id, "pending")]

    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    now = await jetdeck("replay", "--nats-url", url, "--as-of", soon, "--json")
    summary = orjson.loads(now.stdout)["summary"]
    assert summary["jobs_total"] == 1
    shown = await jetdeck("replay", "--nats-url", url, "--as-of", at_creation, "deployments")
    assert shown.exit_code == 0
    assert f"as of sequence {at_creation}" in shown.stdout


async def test_rebuild_writes_a_snapshot_of_the_whole_log(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer
) -> None:
    await create_job(client)
    built = await jetdeck("rebuild", "--nats-url", fresh_server.url, "--json")
    assert built.exit_code == 0, built.output
    last = await jetdeck("audit", "log", "--nats-url", fresh_server.url, "--json")
    assert (
        orjson.loads(built.stdout)["snapshot_seq"]
        == orjson.loads(last.stdout.splitlines()[-1])["seq"]
    )


async def test_verify_checks_the_checkpoints_against_the_public_key_the_auditor_trusts(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    await create_job(client)
    signer = signing_key(tmp_path, None)
    nc = await connect(fresh_server.url, "jetdeck-test")
    last = (await nc.jetstream().stream_info("EVENTS")).state.last_seq
    checkpointer = Checkpointer(nc, signer, await writer_key(nc), 10_000, 3600)
    await checkpointer.start()

    async def caught_up() -> bool:
        return checkpointer.position == last

    await eventually(caught_up, 10, "the checkpointer read the log")
    assert await checkpointer.write() is not None
    await checkpointer.stop()
    await nc.close()
    args = ("audit", "verify", "--nats-url", fresh_server.url, "--data-dir", tmp_path / "none")
    trusted = public_key_text(signer.public_key())
    good = await jetdeck(*args, "--public-key", trusted, "--json")
    assert good.exit_code == 0, good.output
    assert orjson.loads(good.stdout)["checkpoints"] == 1
    impostor = public_key_text(Ed25519PrivateKey.generate().public_key())
    bad = await jetdeck(*args, "--public-key", impostor, "--json")
    assert bad.exit_code == 1
    assert {f["kind"] for f in orjson.loads(bad.stdout)["findings"]} == {"checkpoint-signature"}
    assert (await jetdeck(*args, "--public-key", "ed25519:not-a-key")).exit_code == 2
