"""Job logs over HTTP, read: in order, in pages, followed as Server-Sent Events until the job
ends, and gone once the retention passes."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
import orjson
import pytest

from infra.embedded_server import EmbeddedServer
from infra.layout import LOGS, apply_layout
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import ok
from tests.api.job_logs import (
    WITHIN_S,
    Holder,
    chunk,
    follow_started,
    hold_new_job,
    logs_of,
    sse_events,
)
from tests.queue_helpers import QUEUE_API, post_job


async def test_an_unknown_job_gets_404(client: httpx.AsyncClient) -> None:
    job = uuid4()
    assert (await client.get(logs_of(str(job)))).status_code == 404
    assert (await client.get(logs_of(str(job)), params={"follow": "true"})).status_code == 404


async def test_a_known_job_without_output_has_an_empty_log(client: httpx.AsyncClient) -> None:
    job_id = (await post_job(client))["job_id"]

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

    ok(await client.post(f"{QUEUE_API}/jobs/{holder.job_id}/cancel"))
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
    holder = await hold_new_job(client)
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
