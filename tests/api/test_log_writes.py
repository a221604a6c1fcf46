"""Job logs over HTTP, written: only the lease holder writes, and only while the job runs; a
retried batch is stored once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.helpers import every_item, ok
from tests.api.job_logs import Holder, agent_headers, chunk, hold_new_job, logs_of, new_agent
from tests.queue_helpers import QUEUE_API


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
    holder: Holder, client: httpx.AsyncClient
) -> None:
    other = await hold_new_job(client)
    holder.token = other.token
    holder.headers = other.headers

    assert (await holder.write(chunk("x\n"))).status_code == 403


async def test_another_agent_with_the_holders_claim_token_gets_403(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    holder.headers = agent_headers(await new_agent(client))

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
    ok(await client.post(f"{QUEUE_API}/jobs/{holder.job_id}/cancel"))

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
        f"{QUEUE_API}/jobs/{holder.job_id}/logs",
        json={"claim_token": holder.token} | body,
        headers=holder.headers,
    )
    assert response.status_code == 422, response.text


async def test_a_write_without_a_claim_token_gets_422(holder: Holder) -> None:
    path = f"{QUEUE_API}/jobs/{holder.job_id}/logs"
    response = await holder.client.post(path, json={"chunks": [chunk("x")]}, headers=holder.headers)
    assert response.status_code == 422


async def test_the_biggest_allowed_batch_is_stored(
    holder: Holder, client: httpx.AsyncClient
) -> None:
    texts = [f"{n:03d}" + "x" * 1000 for n in range(256)]

    ok(await holder.write(*(chunk(t) for t in texts)))

    assert [c["text"] for c in await every_item(client, logs_of(holder.job_id))] == texts
