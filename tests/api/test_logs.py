"""Job logs over HTTP: only the lease holder writes; readers get the log in order, or follow it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from infra.embedded_server import EmbeddedServer
from infra.layout import LOGS, apply_layout
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import every_item, ok

QUEUE = "/api/queue"
WITHIN_S = 10.0
"""Deadline for something that must happen, never a measure of speed."""
NEW_JOB = {
    "job_type": "build",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
    "command": "make test",
}
HOST = {"hostname": "h1", "os": "linux", "arch": "x86_64", "cpu_count": 2, "memory_mb": 2048}


def logs_of(job_id: str) -> str:
    return f"/api/dashboard/jobs/{job_id}/logs"


def chunk(text: str, stream: str = "stdout") -> dict[str, str]:
    return {"stream": stream, "text": text}


@dataclass
class Holder:
    """An agent holding the lease of one job."""

    client: httpx.AsyncClient
    agent_id: str
    headers: dict[str, str]
    job_id: str
    token: str

    async def write(self, *chunks: dict[str, str], **extra: Any) -> httpx.Response:
        body = {"claim_token": self.token, "chunks": list(chunks)} | extra
        return await self.client.post(
            f"{QUEUE}/jobs/{self.job_id}/logs", json=body, headers=self.headers
        )

    async def report(self, action: str, **body: Any) -> Any:
        path = f"{QUEUE}/jobs/{self.job_id}/{action}"
        body["claim_token"] = self.token
        return ok(await self.client.post(path, json=body, headers=self.headers))


async def register(client: httpx.AsyncClient, settings: Settings) -> tuple[str, dict[str, str]]:
    body = {"name": f"agent-{uuid4().hex[:6]}", "host": HOST}
    auth = {"Authorization": f"Bearer {settings.registration_token.get_secret_value()}"}
    answer = ok(await client.post("/api/agents/register", json=body, headers=auth), 201)
    agent_id, headers = answer["agent_id"], {"Authorization": f"Bearer {answer['agent_token']}"}
    beat = {"cpu_pct": 1, "mem_pct": 1, "disk_pct": 1}  # a registered agent works once it beats
    ok(await client.post(f"/api/agents/{agent_id}/heartbeat", json=beat, headers=headers))
    return agent_id, headers


async def hold_new_job(client: httpx.AsyncClient, settings: Settings) -> Holder:
    agent_id, headers = await register(client, settings)
    job_id = ok(await client.post(f"{QUEUE}/jobs", json=NEW_JOB), 201)["job_id"]
    claim = {"agent_id": agent_id, "wait_s": 5}
    answer = ok(await client.post(f"{QUEUE}/claim", json=claim, headers=headers))
    assert answer["job"]["job_id"] == job_id
    return Holder(client, agent_id, headers, job_id, answer["claim_token"])


@pytest.fixture
async def holder(client: httpx.AsyncClient, settings: Settings) -> Holder:
    return await hold_new_job(client, settings)


def sse_events(body: str) -> list[dict[str, str]]:
    """The events of a Server-Sent Events body, comments left out."""
    events = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def follow_started(services: Services) -> None:
    """Until the follow's ordered consumer exists on LOGS."""
    js = services.nc.jetstream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN_S
    while (await js.stream_info(LOGS)).state.consumer_count == 0:
        assert loop.time() < deadline, "the follow never subscribed"
        await asyncio.sleep(0.02)


# --- writing --------------------------------------------------------------------------------


async def test_the_holder_writes_and_readers_get_the_log_in_order(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    first = ok(await holder.write(chunk("one\n"), chunk("warn\n", "stderr")))
    ok(await holder.write(chunk("two\n")))

    lines = ok(await client.get(logs_of(holder.job_id)))["items"]
    text = await client.get(logs_of(holder.job_id), params={"format": "text"})

    assert [(c["stream"], c["text"]) for c in lines] == [
        ("stdout", "one\n"),
        ("stderr", "warn\n"),
        ("stdout", "two\n"),
    ]
    assert lines[0]["seq"] == first["first_seq"]
    assert [c["seq"] for c in lines] == sorted(c["seq"] for c in lines)
    assert {c["attempt"] for c in lines} == {1}
    assert all(c["time"] for c in lines)
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "one\nwarn\ntwo\n"


async def test_a_read_after_a_sequence_gets_only_later_chunks(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    written = ok(await holder.write(chunk("a\n"), chunk("b\n"), chunk("c\n")))

    params = {"cursor": written["first_seq"]}
    later = ok(await client.get(logs_of(holder.job_id), params=params))

    assert [c["text"] for c in later["items"]] == ["b\n", "c\n"]


async def test_a_long_log_reads_in_pages(holder: Holder, client: httpx.AsyncClient) -> None:
    ok(await holder.write(chunk("a\n"), chunk("b\n"), chunk("c\n")))

    first = ok(await client.get(logs_of(holder.job_id), params={"limit": 2}))
    params = {"limit": 2, "cursor": first["next_cursor"]}
    rest = ok(await client.get(logs_of(holder.job_id), params=params))

    assert [c["text"] for c in first["items"]] == ["a\n", "b\n"]
    assert first["next_cursor"] == first["items"][-1]["seq"]
    assert ([c["text"] for c in rest["items"]], rest["next_cursor"]) == (["c\n"], None)


async def test_a_retried_batch_with_the_same_offset_is_stored_once(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    ok(await holder.write(chunk("a\n"), chunk("b\n"), offset=0))
    ok(await holder.write(chunk("a\n"), chunk("b\n"), offset=0))
    ok(await holder.write(chunk("c\n"), offset=2))

    texts = [c["text"] for c in ok(await client.get(logs_of(holder.job_id)))["items"]]
    assert texts == ["a\n", "b\n", "c\n"]


async def test_a_token_the_api_did_not_sign_gets_401(holder: Holder) -> None:
    holder.token = "forged.token"
    assert (await holder.write(chunk("x\n"))).status_code == 401


async def test_a_call_without_the_agent_token_gets_401(holder: Holder) -> None:
    holder.headers = {}
    holder.client.headers.pop("Authorization")
    assert (await holder.write(chunk("x\n"))).status_code == 401


async def test_the_claim_token_of_another_job_gets_403(
    holder: Holder, client: httpx.AsyncClient, settings: Settings
) -> None:
    other = await hold_new_job(client, settings)
    holder.token = other.token
    holder.headers = other.headers

    assert (await holder.write(chunk("x\n"))).status_code == 403


async def test_another_agent_with_the_holders_claim_token_gets_403(
    holder: Holder, client: httpx.AsyncClient, settings: Settings
) -> None:
    _, holder.headers = await register(client, settings)

    assert (await holder.write(chunk("x\n"))).status_code == 403


async def test_writes_after_the_job_finished_get_409(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    ok(await holder.write(chunk("done\n")))
    await holder.report("complete", exit_code=0)

    late = await holder.write(chunk("late\n"))

    assert late.status_code == 409
    assert [c["text"] for c in ok(await client.get(logs_of(holder.job_id)))["items"]] == ["done\n"]


async def test_writes_after_a_cancel_get_409(holder: Holder, client: httpx.AsyncClient) -> None:
    ok(await client.post(f"{QUEUE}/jobs/{holder.job_id}/cancel"))

    assert (await holder.write(chunk("x\n"))).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"chunks": []},
        {"chunks": [chunk("x")] * 257},
        {"chunks": [chunk("x" * 32_769)]},
        {"chunks": [chunk("")]},
        {"chunks": [chunk("x", "stdin")]},
        {"chunks": [{"text": "x"}]},
        {"chunks": [chunk("x") | {"color": "red"}]},
        {"chunks": "x"},
        {"chunks": [chunk("x")], "offset": -1},
        {"chunks": [chunk("x")], "extra": 1},
    ],
    ids=[
        "no chunks",
        "too many chunks",
        "text too long",
        "empty text",
        "unknown stream",
        "no stream",
        "unknown chunk field",
        "chunks not a list",
        "negative offset",
        "unknown field",
    ],
)
async def test_bad_bodies_get_422(holder: Holder, body: dict[str, Any]) -> None:
    response = await holder.client.post(
        f"{QUEUE}/jobs/{holder.job_id}/logs",
        json={"claim_token": holder.token} | body,
        headers=holder.headers,
    )
    assert response.status_code == 422, response.text


async def test_a_write_without_a_claim_token_gets_422(holder: Holder) -> None:
    path = f"{QUEUE}/jobs/{holder.job_id}/logs"
    response = await holder.client.post(path, json={"chunks": [chunk("x")]}, headers=holder.headers)
    assert response.status_code == 422


async def test_the_biggest_allowed_batch_is_stored(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    texts = [f"{n:03d}" + "x" * 1000 for n in range(256)]

    ok(await holder.write(*(chunk(t) for t in texts)))

    assert [c["text"] for c in await every_item(client, logs_of(holder.job_id))] == texts


# --- reading --------------------------------------------------------------------------------


async def test_an_unknown_job_gets_404(client: httpx.AsyncClient) -> None:
    job = uuid4()
    assert (await client.get(logs_of(str(job)))).status_code == 404
    assert (await client.get(logs_of(str(job)), params={"follow": "true"})).status_code == 404


async def test_a_known_job_without_output_has_an_empty_log(client: httpx.AsyncClient) -> None:
    job_id = ok(await client.post(f"{QUEUE}/jobs", json=NEW_JOB), 201)["job_id"]

    assert ok(await client.get(logs_of(job_id))) == {"items": [], "next_cursor": None}
    assert (await client.get(logs_of(job_id), params={"format": "text"})).text == ""


async def test_bad_read_parameters_get_422(holder: Holder, client: httpx.AsyncClient) -> None:
    path = logs_of(holder.job_id)
    assert (await client.get(path, params={"format": "xml"})).status_code == 422
    assert (await client.get(path, params={"cursor": 0})).status_code == 422
    assert (await client.get(path, params={"follow": "maybe"})).status_code == 422
    assert (await client.get(logs_of("not-a-uuid"))).status_code == 422


async def test_follow_streams_the_log_until_the_job_finishes(
    holder: Holder, client: httpx.AsyncClient, services: Services
) -> None:
    ok(await holder.write(chunk("before\n")))
    following = asyncio.create_task(client.get(logs_of(holder.job_id), params={"follow": "true"}))
    await follow_started(services)

    ok(await holder.write(chunk("during\n"), chunk("err\n", "stderr")))
    await holder.report("complete", exit_code=3)
    response = await asyncio.wait_for(following, WITHIN_S)

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    chunks = [orjson.loads(e["data"]) for e in events if e["event"] == "chunk"]
    assert [c["text"] for c in chunks] == ["before\n", "during\n", "err\n"]
    assert [e["id"] for e in events if e["event"] == "chunk"] == [str(c["seq"]) for c in chunks]
    assert events[-1] == {"event": "end", "data": '{"status":"failed"}'}


async def test_follow_as_text_streams_the_texts_until_the_job_finishes(
    holder: Holder, client: httpx.AsyncClient, services: Services
) -> None:
    ok(await holder.write(chunk("one\n")))
    params = {"follow": "true", "format": "text"}
    following = asyncio.create_task(client.get(logs_of(holder.job_id), params=params))
    await follow_started(services)

    ok(await holder.write(chunk("two\n")))
    await holder.report("complete", exit_code=0)
    response = await asyncio.wait_for(following, WITHIN_S)

    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "one\ntwo\n"


async def test_follow_ends_when_the_job_is_cancelled(
    holder: Holder, client: httpx.AsyncClient, services: Services
) -> None:
    following = asyncio.create_task(client.get(logs_of(holder.job_id), params={"follow": "true"}))
    await follow_started(services)

    ok(await client.post(f"{QUEUE}/jobs/{holder.job_id}/cancel"))
    response = await asyncio.wait_for(following, WITHIN_S)

    assert sse_events(response.text) == [{"event": "end", "data": '{"status":"cancelled"}'}]


async def test_follow_of_a_finished_job_sends_its_log_and_ends(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    ok(await holder.write(chunk("a\n"), chunk("b\n")))
    await holder.report("complete", exit_code=0)

    response = await asyncio.wait_for(
        client.get(logs_of(holder.job_id), params={"follow": "true"}), WITHIN_S
    )

    events = sse_events(response.text)
    assert [e["event"] for e in events] == ["chunk", "chunk", "end"]
    assert events[-1]["data"] == '{"status":"success"}'


async def test_a_reconnecting_follower_resumes_after_last_event_id(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    written = ok(await holder.write(chunk("a\n"), chunk("b\n"), chunk("c\n")))
    await holder.report("complete", exit_code=0)

    response = await asyncio.wait_for(
        client.get(
            logs_of(holder.job_id),
            params={"follow": "true"},
            headers={"Last-Event-ID": str(written["first_seq"])},
        ),
        WITHIN_S,
    )

    chunks = [orjson.loads(e["data"]) for e in sse_events(response.text) if e["event"] == "chunk"]
    assert [c["text"] for c in chunks] == ["b\n", "c\n"]


@pytest.mark.parametrize("settings", [{"log_follow_max_s": 0.5}], indirect=True)
async def test_a_follow_ends_at_its_time_limit_and_resumes_after_last_event_id(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    ok(await holder.write(chunk("a\n")))
    path = logs_of(holder.job_id)

    first = sse_events((await client.get(path, params={"follow": "true"})).text)
    assert [e["event"] for e in first] == ["chunk", "timeout"]

    ok(await holder.write(chunk("b\n")))
    resumed = await client.get(
        path, params={"follow": "true"}, headers={"Last-Event-ID": first[0]["id"]}
    )
    events = sse_events(resumed.text)
    assert [(e["event"], orjson.loads(e["data"]).get("text")) for e in events] == [
        ("chunk", "b\n"),
        ("timeout", None),
    ]


# --- retention ------------------------------------------------------------------------------

RETENTION_S = 5.0
"""Long enough for the job to be reported and read once before its chunk expires."""


@pytest.mark.parametrize("settings", [{"log_retention_days": RETENTION_S / 86400}], indirect=True)
async def test_a_finished_jobs_log_expires_with_the_retention_and_then_answers_410(
    settings: Settings, services: Services, client: httpx.AsyncClient, fresh_server: EmbeddedServer
) -> None:
    await apply_layout(fresh_server.admin_url, None, 1, settings.log_max_age_s)  # the layout step
    assert (await services.nc.jetstream().stream_info(LOGS)).config.max_age == RETENTION_S
    holder = await hold_new_job(client, settings)
    ok(await holder.write(chunk("kept a while\n")))
    await holder.report("complete", exit_code=0)
    assert [c["text"] for c in ok(await client.get(logs_of(holder.job_id)))["items"]] == [
        "kept a while\n"
    ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETENTION_S + WITHIN_S
    while (answer := await client.get(logs_of(holder.job_id))).status_code == 200:
        assert loop.time() < deadline, "the log never expired"
        await asyncio.sleep(0.1)

    assert answer.status_code == 410
    assert answer.json()["error"] == "logs_expired"
    assert "JETDECK_LOG_RETENTION_DAYS" in answer.json()["detail"]
    followed = await client.get(logs_of(holder.job_id), params={"follow": "true"})
    assert followed.status_code == 410
    events = await services.store.load(f"ev.job.{holder.job_id}.>")
    assert [m.subject.rsplit(".", 1)[1] for m in events][-1] == "completed"  # events stay
