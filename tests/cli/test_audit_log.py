"""`jetdeck audit log` against events written through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson

from infra.embedded_server import EmbeddedServer
from tests.api.helpers import complete_job, create_deployment, create_job, start_job
from tests.cli.conftest import jetdeck


def rows(output: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in output.splitlines()]


async def test_log_lists_who_did_what_and_filters(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer
) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id)
    await complete_job(client, job_id)
    deployment_id = (await create_deployment(client))["deployment_id"]
    url = fresh_server.url

    every = await jetdeck("audit", "log", "--nats-url", url, "--json")
    assert every.exit_code == 0, every.output
    found = rows(every.stdout)
    assert [r["seq"] for r in found] == list(range(1, len(found) + 1))
    assert set(found[0]) == {
        "seq", "time", "actor", "type", "subject", "command_id", "correlation_id"
    }  # fmt: skip

    job = rows((await jetdeck("audit", "log", "--nats-url", url, "--json", "--aggregate",
                              f"job/{job_id}")).stdout)  # fmt: skip
    assert [r["type"] for r in job] == ["job.Created", "job.Started", "job.Completed"]
    assert {r["actor"] for r in job} == {found[-1]["actor"]}

    kinds = rows((await jetdeck("audit", "log", "--nats-url", url, "--json",
                                "--type", "deployment.Created")).stdout)  # fmt: skip
    assert [r["subject"] for r in kinds] == [f"ev.deployment.{deployment_id}.created"]

    nobody = await jetdeck("audit", "log", "--nats-url", url, "--json", "--actor", "user:nobody")
    assert nobody.exit_code == 0
    assert nobody.stdout == ""


async def test_since_and_until_cut_by_time(
    client: httpx.AsyncClient, fresh_server: EmbeddedServer
) -> None:
    await create_job(client)
    now = datetime.now(UTC)
    url = fresh_server.url
    later = await jetdeck("audit", "log", "--nats-url", url, "--json", "--since",
                          (now + timedelta(hours=1)).isoformat())  # fmt: skip
    assert later.exit_code == 0
    assert later.stdout == ""
    before = await jetdeck("audit", "log", "--nats-url", url, "--json", "--until", now.isoformat())
    assert len(rows(before.stdout)) == len(rows((await jetdeck(
        "audit", "log", "--nats-url", url, "--json")).stdout))  # fmt: skip


async def test_table_output(client: httpx.AsyncClient, fresh_server: EmbeddedServer) -> None:
    await create_job(client)
    result = await jetdeck("audit", "log", "--nats-url", fresh_server.url, "--type", "job.Created")
    assert result.exit_code == 0, result.output
    assert "job.Created" in result.stdout


async def test_usage_and_connection_errors_exit_2(fresh_server: EmbeddedServer) -> None:
    unknown = await jetdeck("audit", "log", "--nats-url", fresh_server.url, "--aggregate", "nope")
    assert unknown.exit_code == 2
    assert "unknown aggregate kind" in unknown.stderr
    bad_time = await jetdeck("audit", "log", "--nats-url", fresh_server.url, "--since", "soon")
    assert bad_time.exit_code == 2
    unreachable = await jetdeck("audit", "log", "--nats-url", "nats://127.0.0.1:1")
    assert unreachable.exit_code == 2
    assert "cannot connect to NATS at nats://127.0.0.1:1" in unreachable.stderr
    assert "Traceback" not in unreachable.output
    no_password = await jetdeck("audit", "log", "--nats-url", fresh_server.address)
    assert no_password.exit_code == 2
    assert fresh_server.logins.runtime.password not in no_password.output
    assert (await jetdeck("audit", "log", "--no-such-option")).exit_code == 2
