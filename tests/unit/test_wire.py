"""The follow's parser against nats-py's own on the same bytes, however the reads split them:
every operation reaches the same place with the same fields, and a follow's messages reach the
follow."""

from __future__ import annotations

from typing import Any

import pytest
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from infra.wire import FollowingParser

FOLLOWED, OTHER = 1, 2
ACK = b"$JS.ACK.EVENTS.c1.1.%d.%d.1733000000000000000.0"
RESET = b"reset.the.parser"
HEADERS = b"NATS/1.0\r\nNats-Msg-Id: abc\r\n\r\n"


def hmsg(subject: bytes, sid: int, reply: bytes, payload: bytes) -> bytes:
    size = len(HEADERS) + len(payload)
    head = b"HMSG %s %d %s%d %d\r\n" % (
        subject,
        sid,
        reply + b" " if reply else b"",
        len(HEADERS),
        size,
    )
    return head + HEADERS + payload + b"\r\n"


def msg(subject: bytes, sid: int, reply: bytes, payload: bytes) -> bytes:
    head = b"MSG %s %d %s%d\r\n" % (subject, sid, reply + b" " if reply else b"", len(payload))
    return head + payload + b"\r\n"


WIRE = b"".join(
    [
        b'INFO {"server_id":"x","max_payload":1048576}\r\n',
        hmsg(b"ev.job.a.created", FOLLOWED, ACK % (1, 1), b'{"n":1}'),
        b"PING\r\n",
        hmsg(b"ev.job.a.started", FOLLOWED, ACK % (2, 2), b'{"n":2}' * 300),
        msg(b"_INBOX.r", OTHER, b"", b"an answer"),
        b"+OK\r\n",
        msg(b"ev.flow", FOLLOWED, b"$JS.FC.EVENTS.x.y", b""),  # flow control: not an ack
        hmsg(b"ev.job.b.created", OTHER, ACK % (3, 3), b"{}"),  # an ack, not a follow's
        b"PONG\r\n",
        msg(b"subject.with.MSG.in.it", OTHER, b"reply.x", b"MSG 1 2\r\n"),
        hmsg(b"ev.job.a.completed", FOLLOWED, ACK % (4, 3), b'{"n":4}'),
        b"-ERR 'Stale Connection'\r\n",
    ]
)


class Follow:
    def __init__(self, seen: list[tuple[Any, ...]]) -> None:
        self.seen = seen

    def receive(self, subject: bytes, reply: bytes, data: bytes) -> None:
        self.seen.append(("follow", subject, reply, data))

    def keep_flow_reply(self, reply: str) -> bool:
        return False


class Client:
    """What a parser calls, recorded; sid 1 is a follow's."""

    def __init__(self) -> None:
        self.parser: Parser | None = None
        self.seen: list[tuple[Any, ...]] = []
        self.stats = {"in_msgs": 0, "in_bytes": 0}
        self._subs: dict[int, object] = {FOLLOWED: "followed", OTHER: "other"}
        self.followings = {"followed": Follow(self.seen)}

    async def _process_msg(self, *fields: Any) -> None:
        self.seen.append(("msg", *fields))
        if fields[1] == RESET and self.parser is not None:
            self.parser.reset()  # as nats-py's client does when it reconnects

    async def _process_ping(self) -> None:
        self.seen.append(("ping",))

    async def _process_pong(self) -> None:
        self.seen.append(("pong",))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.seen.append(("info", info))

    async def _process_err(self, err: str) -> None:
        self.seen.append(("err", err))


async def by_nats_py() -> list[tuple[Any, ...]]:
    """nats-py's parser over the whole stream, a follow's data messages routed as the follow's
    parser must route them."""
    client = Client()
    await Parser(client).parse(WIRE)
    routed: list[tuple[Any, ...]] = []
    for seen in client.seen:
        if seen[0] == "msg" and seen[1] == FOLLOWED and seen[3].startswith(b"$JS.ACK."):
            routed.append(("follow", seen[2], seen[3], seen[4]))
        else:
            routed.append(seen)
    return routed


@pytest.mark.parametrize("read", [1, 2, 3, 5, 8, 13, 64, 1000, len(WIRE)])
async def test_every_operation_reaches_where_nats_py_sends_it_however_the_reads_split(
    read: int,
) -> None:
    client = Client()
    parser = FollowingParser(client)  # type: ignore[arg-type]
    for at in range(0, len(WIRE), read):
        await parser.parse(WIRE[at : at + read])
    assert client.seen == await by_nats_py()
    assert [s[0] for s in client.seen].count("follow") == 3
    assert client.stats["in_msgs"] == 3
    assert not parser.buf


async def test_a_malformed_message_line_is_a_protocol_error() -> None:
    parser = FollowingParser(Client())  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        await parser.parse(b"HMSG ev.job.a.created one 10 20\r\n")


async def test_what_follows_a_reset_of_the_parser_is_dropped() -> None:
    """nats-py resets the parser when it reconnects (a stale connection, a ping timeout), maybe
    while a message is handled: the rest of what was read came over the old connection."""
    client = Client()
    client.parser = FollowingParser(client)  # type: ignore[arg-type]
    resetting = msg(RESET, OTHER, b"", b"")
    after = hmsg(b"ev.job.a.created", FOLLOWED, ACK % (5, 5), b"{}")
    await client.parser.parse(resetting + after + b"PING\r\n")
    assert client.seen == [("msg", OTHER, RESET, b"", b"", None)]
    assert not client.parser.buf
