"""Following EVENTS on a real server: in order, and never more buffered than the server's flow
control allows, however far behind the handler is."""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref
from collections.abc import Awaitable, Coroutine

from nats.aio.client import Client

from infra.connection import FollowingClient, WideTransport
from infra.follower import Following, Held, follow, ordered
from infra.layout import EVENT_SUBJECTS, EVENTS
from tests.queue_helpers import eventually

EVENTS_WRITTEN = 24_000
PAYLOAD = b"x" * 1_000
"""24 MB in all: several times the window the server starts a follow with (2 MB)."""
BUFFER_BOUND = 12 * 1024 * 1024
"""What a stalled follow may hold: the window, doubled while it was answered, and a margin."""


async def write_events(nc: Client) -> None:
    js = nc.jetstream()
    for n in range(EVENTS_WRITTEN):
        await js.publish_async(f"ev.job.j{n % 500}.noted", PAYLOAD)
    await js.publish_async_completed()


class Seen:
    """The sequences a follow handed on, in order; `done` once the last one expected came."""

    def __init__(self, last: int) -> None:
        self.seqs: list[int] = []
        self.last = last
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(self, seq: int) -> None:
        self.seqs.append(seq)
        if seq == self.last:
            self.done.set_result(None)

    def on_event(self, seq: int, subject: str, data: bytes, pending: int) -> None:
        self.add(seq)


async def stalled(following: Following) -> bool:
    """Polls until the server stops sending with the handler held, or the follow holds more
    than the bound (False) or ten seconds pass (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    last, unchanged = -1, 0
    while loop.time() < deadline:
        if following.buffered_bytes > BUFFER_BOUND:
            return False
        delivered = await following.delivered()
        unchanged = unchanged + 1 if delivered == last else 0
        if unchanged == 5 and delivered < EVENTS_WRITTEN:
            return True
        last = delivered
        await asyncio.sleep(0.05)
    return False


async def test_a_follow_behind_the_stream_buffers_a_window_not_the_stream(nc: Client) -> None:
    await write_events(nc)
    held = asyncio.Event()
    seen = Seen(EVENTS_WRITTEN)

    async def handled(seq: int) -> None:
        await held.wait()
        seen.add(seq)

    def on_event(seq: int, subject: str, data: bytes, pending: int) -> Awaitable[None]:
        return handled(seq)

    following = await follow(nc.jetstream(), 1, on_event)
    try:
        assert await stalled(following), following.buffered_bytes
        held.set()
        await asyncio.wait_for(seen.done, 60)
    finally:
        await following.unsubscribe()
    assert seen.seqs == list(range(1, EVENTS_WRITTEN + 1))


async def failing() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("a held handler's bug")


async def test_a_failing_handler_does_not_stop_the_follow(nc: Client) -> None:
    """Raising, or returning an awaitable that fails or was cancelled."""
    await write_events(nc)
    seen = Seen(EVENTS_WRITTEN)

    def on_event(seq: int, subject: str, data: bytes, pending: int) -> Held:
        seen.add(seq)
        if seq % 1000 == 0:
            raise RuntimeError("a handler's bug")
        if seq % 1000 == 1:
            return failing()
        if seq % 1000 == 2:
            cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            cancelled.cancel()
            return cancelled
        return None

    following = await follow(nc.jetstream(), EVENTS_WRITTEN - 2500, on_event)
    try:
        await asyncio.wait_for(seen.done, 60)
    finally:
        await following.unsubscribe()
    assert seen.seqs == list(range(EVENTS_WRITTEN - 2500, EVENTS_WRITTEN + 1))


async def test_a_follow_whose_consumer_is_lost_goes_on_after_its_last_event(nc: Client) -> None:
    """The server forgets the consumer (as after a restart): nats-py's ordered consumer makes it
    again from the sequence after the last one the follow handed on; nothing is missed or seen
    twice."""
    await write_events(nc)
    seen = Seen(2 * EVENTS_WRITTEN)

    async def all_seen() -> bool:
        return len(seen.seqs) == EVENTS_WRITTEN

    following = await follow(nc.jetstream(), 1, seen.on_event)
    try:
        await eventually(all_seen, 30, "the first events followed")
        jsm = nc.jsm()
        for consumer in await jsm.consumers_info(EVENTS):
            await jsm.delete_consumer(EVENTS, consumer.name)
        await write_events(nc)
        await asyncio.wait_for(seen.done, 60)
    finally:
        await following.unsubscribe()
    assert seen.seqs == list(range(1, 2 * EVENTS_WRITTEN + 1))


async def test_what_nats_py_queued_before_the_follow_took_over_comes_first(nc: Client) -> None:
    """Messages can reach the subscription between its creation and the follow's: nats-py
    queues them, and the follow hands them on before anything newer."""
    assert isinstance(nc, FollowingClient)
    await write_events(nc)
    sub = await ordered(nc.jetstream(), 1, EVENT_SUBJECTS)

    async def queued() -> bool:
        return bool(sub.pending_msgs)

    await eventually(queued, 10, "messages queued by nats-py")
    seen = Seen(EVENTS_WRITTEN)
    following = Following(nc, sub, seen.on_event)
    try:
        await asyncio.wait_for(seen.done, 60)
    finally:
        await following.unsubscribe()
    assert seen.seqs == list(range(1, EVENTS_WRITTEN + 1))


class HeldForGood:
    """A handler that holds the follow from its first event on, as a picture that never ends."""

    def __init__(self) -> None:
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __call__(self, seq: int, subject: str, data: bytes, pending: int) -> Held:
        if not self.first.done():
            self.first.set_result(None)
        return asyncio.get_running_loop().create_future()


async def test_a_follow_stopped_while_held_lets_go_of_its_handler_without_the_collector(
    nc: Client,
) -> None:
    """A stopped follow may outlive its stop in a cycle (its cancelled drain's traceback): it
    must not keep its handler, and through it every read model, for the collector to find."""
    await write_events(nc)
    handler = HeldForGood()
    handler_alive = weakref.ref(handler)
    gc.disable()
    try:
        following = await follow(nc.jetstream(), 1, handler)
        await asyncio.wait_for(handler.first, 10)
        await following.unsubscribe()
        del following, handler
        assert handler_alive() is None
    finally:
        gc.enable()


class HeldFromTheFirst:
    """A handler whose first event holds the follow with a coroutine of its own."""

    def __init__(self) -> None:
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.coroutine: Coroutine[None, None, None] | None = None

    def __call__(self, seq: int, subject: str, data: bytes, pending: int) -> Held:
        if self.coroutine is not None:
            return None
        self.first.set_result(None)
        self.coroutine = asyncio.sleep(3600)
        return self.coroutine


async def test_a_follow_stopped_before_its_drain_began_closes_the_coroutine_it_held(
    nc: Client,
) -> None:
    """Awaiting the first event's future resumes this test before the drain the event started
    has run a step: the stop cancels the drain unstarted, and the handler's coroutine, which
    nothing awaited, is closed rather than left to warn that it never was."""
    await write_events(nc)
    handler = HeldFromTheFirst()
    following = await follow(nc.jetstream(), 1, handler)
    await handler.first
    assert handler.coroutine is not None
    assert inspect.getcoroutinestate(handler.coroutine) == inspect.CORO_CREATED
    await following.unsubscribe()
    assert inspect.getcoroutinestate(handler.coroutine) == inspect.CORO_CLOSED


async def test_a_following_connection_reads_through_the_wide_transport(nc: Client) -> None:
    assert isinstance(nc, FollowingClient)
    assert isinstance(nc._transport, WideTransport)
