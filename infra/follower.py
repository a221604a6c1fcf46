"""EVENTS in order from a sequence, handed to a function straight from the connection's read loop,
with the server's flow control kept.

Not through nats-py's subscription machinery, for two measured reasons:

* Memory. For a subscription with a callback nats-py answers the server's flow-control requests
  as the messages arrive, not once the callback has taken them, so the server's window (32 MB)
  never binds: a replay behind the stream held the rest of it in memory (880 MB buffered 70,000
  events into a 1.6-million-event catch-up, 2.9 GB resident), and the heap stayed fragmented.
* Speed. nats-py parses every header of every message into a dict and builds a `Msg` around it;
  its header parser alone is about a third of a raw replay's time (it tests each character of
  each header name for whitespace). A follow reads none of it: the ack subject says the stream
  sequence and what is pending, and the payload is the event.

So a `FollowingClient` hands a follow's messages to it before nats-py parses anything, and the
follow hands each to its handler at once, in the read loop. A handler that must wait (a snapshot
to start, a checkpoint to write) returns an awaitable: until it is done the follow holds what
arrives, in order, and answers the server's flow control only once it has handed all that on,
so at most a window is held. nats-py's ordered consumer stays in charge of the consumer itself:
the follow keeps its delivery sequence, and a gap resets the consumer as nats-py would.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from infra.ack_subject import sequences
from infra.connection import FollowingClient
from infra.layout import EVENT_SUBJECTS, EVENTS

log = logging.getLogger(__name__)

Held = Awaitable[object] | None
"""What a handler returns: an awaitable holds the follow until it is done."""
Handler = Callable[[int, str, bytes, int], Held]
"""Called with the stream sequence, the subject, the payload and how many are pending after it."""
Event = tuple[int, str, bytes, int]


def _stopped(*_: object) -> Held:
    """The handler of a follow that was stopped."""
    return None


class Following:
    """A running follow; `unsubscribe` stops it (a handler's awaitable still going is cancelled)."""

    def __init__(self, client: FollowingClient, sub: Any, on_event: Handler) -> None:
        self._client = client
        self._sub = sub
        self._jsi = sub._sub._jsi
        self._on_event = on_event
        self._held: deque[Event] | None = None
        """What arrived while a handler's awaitable ran, in order; None when nothing waits."""
        self._held_bytes = 0
        self._flow_reply: str | None = None
        self._draining: asyncio.Task[None] | None = None
        self._waiting: Held = None
        """The awaitable the follow is held for, until it is done."""
        client.followings[sub._sub] = self
        self._take_queued(sub._pending_queue)

    def _take_queued(self, queue: asyncio.Queue[Msg]) -> None:
        """Messages the read loop gave nats-py before this follow was registered: nats-py has
        checked their order, and they come first."""
        while not queue.empty():
            msg = queue.get_nowait()
            read = sequences(msg.reply)
            if read is not None:
                self._arrived((read[0], msg.subject, msg.data, read[2]))

    def receive(self, subject: bytes, reply: bytes, data: bytes) -> Awaitable[None] | None:
        """One message of the follow, as nats-py's ordered consumer checks it: a delivery out of
        its consumer sequence means one was lost, and the consumer is made again after the last
        stream sequence handed on (the awaitable returned)."""
        ack = reply.decode()
        read = sequences(ack)
        jsi = self._jsi
        jsi._active = True
        if read is None:
            log.warning("a follow got a message with the ack subject %r: skipped", ack)
            return None
        seq, consumer_seq, pending = read
        if consumer_seq != jsi._dseq:
            return jsi.reset_ordered_consumer(jsi._sseq + 1)  # type: ignore[no-any-return]
        jsi._dseq, jsi._sseq, jsi._cmeta = consumer_seq + 1, seq, ack
        self._arrived((seq, subject.decode(), data, pending))
        return None

    def _arrived(self, event: Event) -> None:
        if self._held is not None:
            self._held.append(event)
            self._held_bytes += len(event[2])
            return
        waiting = self._call(event)
        if waiting is not None:
            self._held, self._waiting = deque(), waiting
            self._draining = asyncio.create_task(self._drain())

    def keep_flow_reply(self, reply: str) -> bool:
        """A flow-control request while messages are held is answered once they are handed on."""
        if self._held is None:
            return False
        self._flow_reply = reply
        return True

    def _call(self, event: Event) -> Held:
        try:
            return self._on_event(*event)
        except Exception:  # one event's failure does not stop the follow
            log.exception("a follower's handler failed on %s", event[1])
            return None

    async def _drain(self) -> None:
        held = self._held
        assert held is not None
        while (waiting := self._waiting) is not None:
            try:
                await waiting
            except asyncio.CancelledError:
                if _stopping():
                    raise
                log.warning("a follower's handler was cancelled while the follow was held")
            except Exception:
                log.exception("a follower's handler failed while the follow was held")
            self._waiting = None
            while held and self._waiting is None:
                event = held.popleft()
                self._held_bytes -= len(event[2])
                self._waiting = self._call(event)
        self._held, self._draining = None, None
        if self._flow_reply is not None:
            reply, self._flow_reply = self._flow_reply, None
            await self._client.publish(reply)

    async def unsubscribe(self) -> None:
        self._client.followings.pop(self._sub._sub, None)
        # A cancelled drain's traceback holds its frames (this follow's, a handler's awaitable's),
        # and through them the handler and all the read models. Kept in a cycle by this follow,
        # a replay that froze the collector (a rebuild) would never free them; so the drain and
        # the handler are let go.
        self._on_event = _stopped
        draining, self._draining, self._held = self._draining, None, None
        if draining is not None:
            draining.cancel()
            await asyncio.gather(draining, return_exceptions=True)
        # A drain cancelled before it began never awaited its handler's coroutine.
        waiting, self._waiting = self._waiting, None
        if inspect.iscoroutine(waiting):
            waiting.close()
        await self._sub.unsubscribe()

    async def settled(self) -> None:
        """Once the follow holds nothing: what it was held for is done, and all that arrived
        meanwhile is handed on."""
        if self._draining is not None:
            await asyncio.shield(self._draining)

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes received and not yet handed on."""
        return self._held_bytes

    async def delivered(self) -> int:
        """The last stream sequence the server has sent to this follow."""
        return int((await self._sub.consumer_info()).delivered.stream_seq)


def _stopping() -> bool:
    """This task is being cancelled (the follow stops), not merely awaiting something that was."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def follow(
    js: JetStreamContext, start_seq: int, on_event: Handler, subject: str = EVENT_SUBJECTS
) -> Following:
    """EVENTS from `start_seq` on `subject`, to `on_event` one at a time, in order; `js` must be
    a `FollowingClient`'s."""
    client = js._nc
    if not isinstance(client, FollowingClient):
        raise TypeError("a follow needs a FollowingClient's connection (infra.connection)")
    return Following(client, await ordered(js, start_seq, subject), on_event)


async def ordered(js: JetStreamContext, start_seq: int, subject: str) -> Any:
    """The ordered consumer a follow reads, subscribed without a callback."""
    return await js.subscribe(
        subject,
        stream=EVENTS,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
        ),
    )
