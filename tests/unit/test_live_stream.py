"""One client's stream in memory: what it is sent first for where its page stands, its end when
the page refuses its credentials or they stop reading, and a job page's that keeps only the
newest frame while it passes on every log chunk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime

import pytest

from api.live.cursor import Cursor
from api.live.hub import Hub, Membership
from api.live.stream import ENDED, KEEPALIVE, RETRY, Watch, stream
from infra.log_follow import Item
from infra.logs import LogChunk
from tests.unit.live_fakes import DEADLINE_S, Page, Runner, credentials

KEY = ("/jobs/x", "", "viewer")
KEEPALIVE_S = 0.05
"""Short, so that a stream with nothing to send says so at once."""


async def allowed() -> bool:
    return True


async def refused() -> bool:
    return False


def watch(
    member: Membership, cursor: Cursor, runner: Runner, log: AsyncIterator[Item] | None = None
) -> Watch:
    return Watch(member, cursor, runner, KEEPALIVE_S, allowed, log)


async def first(messages: AsyncGenerator[bytes], count: int) -> list[bytes]:
    async with asyncio.timeout(DEADLINE_S):
        return [await anext(messages) for _ in range(count)]


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
async def joined(runner: Runner) -> tuple[Page, Membership]:
    """A channel whose one render read an event while it ran: it stands between 1 and 2."""
    page = Page(runner)
    runner.advance()
    page.during = runner.advance
    member = await Hub(0.0).join(KEY, runner, page.render, credentials("alice"))
    page.during = None
    return page, member


async def test_a_client_whose_page_may_miss_what_the_render_read_gets_the_whole_frame(
    runner: Runner, joined: tuple[Page, Membership]
) -> None:
    _, member = joined
    for at in (0, 1):
        messages = stream(watch(member, Cursor(at), runner))
        got = await first(messages, 2)
        assert got[0] == RETRY
        assert got[1].startswith(b"id: 1\nevent: update\ndata: <section hx-swap-oob")
        await messages.aclose()


async def test_a_client_at_where_the_render_ended_gets_nothing_until_a_change(
    runner: Runner, joined: tuple[Page, Membership]
) -> None:
    _, member = joined
    messages = stream(watch(member, Cursor(2), runner))
    assert await first(messages, 2) == [RETRY, KEEPALIVE]
    await messages.aclose()
    member.leave()


async def test_a_client_the_page_refuses_is_told_the_stream_ended(
    runner: Runner, joined: tuple[Page, Membership]
) -> None:
    page, member = joined
    messages = stream(watch(member, Cursor(2), runner))
    assert await first(messages, 1) == [RETRY]
    told = asyncio.create_task(first(messages, 1))
    page.refused.add("alice")
    runner.advance()
    assert await told == [ENDED]
    await messages.aclose()


async def test_credentials_that_stop_reading_end_the_stream_at_the_next_check(
    runner: Runner, joined: tuple[Page, Membership]
) -> None:
    _, member = joined
    checked = Watch(member, Cursor(2), runner, KEEPALIVE_S, refused)
    assert await first(stream(checked), 2) == [RETRY, ENDED]


async def test_a_job_page_takes_only_the_newest_frame_but_every_log_chunk(
    runner: Runner, joined: tuple[Page, Membership]
) -> None:
    page, member = joined
    log: asyncio.Queue[Item] = asyncio.Queue()

    async def followed() -> AsyncIterator[Item]:
        while True:
            yield await log.get()

    messages = stream(watch(member, Cursor(2), runner, log=followed()))
    assert await first(messages, 1) == [RETRY]
    log.put_nowait(chunk(1))
    assert b'id="log-1"' in (await first(messages, 1))[0]
    # The client takes nothing meanwhile. Each wait below resumes after the stream's pumps, which
    # waited first (asyncio wakes waiters in order), have taken the chunk and the frame.
    version = 1
    for n, text in enumerate(["second", "third"], start=2):
        log.put_nowait(chunk(n))
        page.text = text
        runner.advance()
        frame = await member.channel.after(version, member.member)
        assert frame is not None
        version = frame.version
    got = (await first(messages, 1))[0]
    assert got.startswith(b"id: 4.3\nevent: update\n")
    assert b"third" in got
    assert b"second" not in got
    assert got.count(b"<section") == 1
    assert b'id="log-2"' in got
    assert b'id="log-3"' in got
    await messages.aclose()


def chunk(seq: int) -> LogChunk:
    return LogChunk(seq, "stdout", f"line {seq}\n", datetime.now(UTC), 1)
