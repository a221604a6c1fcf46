"""The live stream's sequence contract over real HTTP (uvicorn, which streams; an in-process
transport would wait for the endless response to end): its ids are stream sequences, a
reconnect at the current one gets nothing, an older one exactly one re-render, and a write a
message whose id is at least the write's sequence. Here for the browser tests' real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.browser.conftest import LIVE_KEEPALIVE_S
from tests.queue_helpers import NEW_JOB

JOBS = "/api/dashboard/jobs"
DEADLINE_S = 10 * LIVE_KEEPALIVE_S


@dataclass
class Received:
    messages: list[dict[str, str]] = field(default_factory=list)
    keepalives: int = 0


class Sse:
    """Reads one stream's events as they come: messages (their fields) and comments."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.got = Received()

    async def until(self, done: Any) -> Received:
        """Reads on until `done(received)` holds; a TimeoutError past the deadline."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(DEADLINE_S):
            async for line in self.lines:
                if line.startswith(":"):
                    self.got.keepalives += 1
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = fields.get(name, "") + value.removeprefix(" ")
                elif fields:
                    if "data" in fields or "id" in fields:
                        self.got.messages.append(fields)
                    fields = {}
                if done(self.got):
                    return self.got
        raise AssertionError("the stream ended")


@asynccontextmanager
async def live(admin: httpx.AsyncClient, path: str, **headers: str) -> AsyncIterator[Sse]:
    async with admin.stream("GET", path, headers=headers, timeout=DEADLINE_S) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Sse(response)


async def position(admin: httpx.AsyncClient, at_least: int) -> int:
    """The read models' position once they hold `at_least`."""
    answer = await admin.get("/api/dashboard/summary", params={"min_seq": at_least})
    seq: int = answer.json()["as_of_seq"]
    return seq


async def a_job(admin: httpx.AsyncClient) -> int:
    answer = await admin.post(JOBS, json=NEW_JOB)
    assert answer.status_code == 201, answer.text
    seq: int = answer.json()["seq"]
    return seq


def two_keepalives(got: Received) -> bool:
    return got.keepalives >= 2


async def test_a_reconnect_at_the_current_sequence_gets_only_keepalives(
    admin: httpx.AsyncClient,
) -> None:
    now = await position(admin, await a_job(admin))
    async with live(admin, "/live/", **{"Last-Event-ID": str(now)}) as sse:
        got = await sse.until(two_keepalives)
    assert got.messages == []


async def test_a_reconnect_at_an_older_sequence_gets_one_rerender_at_the_current_one(
    admin: httpx.AsyncClient,
) -> None:
    now = await position(admin, await a_job(admin))
    async with live(admin, "/live/jobs", **{"Last-Event-ID": str(now - 1)}) as sse:
        got = await sse.until(two_keepalives)
    assert [m["id"] for m in got.messages] == [str(now)]
    assert 'id="jobs-table"' in got.messages[0]["data"]
    assert 'hx-swap-oob="true"' in got.messages[0]["data"]


async def test_a_write_reaches_an_open_stream_with_its_sequence_or_a_later_one(
    admin: httpx.AsyncClient,
) -> None:
    now = await position(admin, await a_job(admin))
    async with live(admin, f"/live/?after={now}") as sse:
        written = await a_job(admin)
        got = await sse.until(lambda got: any(int(m["id"]) >= written for m in got.messages))
    assert 'id="summary"' in got.messages[-1]["data"]


async def test_a_bad_position_is_a_422_and_an_unknown_page_a_404(
    admin: httpx.AsyncClient,
) -> None:
    bad = [
        await admin.get("/live/?after=-1"),
        await admin.get("/live/", headers={"Last-Event-ID": "12.x"}),
        await admin.get("/live/?after=" + "9" * 30),
    ]
    assert [r.status_code for r in bad] == [422, 422, 422]
    unknown = await admin.get("/live/jobs/3f6c1a52-9d7e-4b8a-8c1e-2f4b6d8e0a13")
    assert unknown.status_code == 404
    async with httpx.AsyncClient(base_url=str(admin.base_url)) as anonymous:
        assert (await anonymous.get("/live/")).status_code == 401
