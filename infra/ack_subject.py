"""The ack subject JetStream gives each delivered message, read without nats-py's Metadata:
building it (a timestamp, five ints, two dataclasses) cost about 5 µs a message on replay.

    $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>

or, from a server with a domain, `<domain>.<account hash>` after `$JS.ACK` and an optional token
at the end. Every reader of it goes through `_fields`.
"""

from __future__ import annotations

from nats.aio.msg import Msg

PREFIX = "$JS.ACK."
_DELIVERED, _STREAM_SEQ, _CONSUMER_SEQ, _PENDING = 2, 3, 4, 6
"""Positions among the seven fields from <stream> to <pending>."""


def _fields(reply: str | None) -> list[str] | None:
    """The seven fields from <stream> to <pending>, or None when `reply` is no ack subject."""
    if not reply or not reply.startswith(PREFIX):
        return None
    tokens = reply.split(".")
    if len(tokens) == 9:
        return tokens[2:]
    if len(tokens) in (11, 12):
        return tokens[4:11]
    return None


def _field(reply: str | None, position: int) -> int | None:
    fields = _fields(reply)
    return None if fields is None else _number(fields[position])


def _number(token: str) -> int | None:
    return int(token) if token.isdigit() else None


def stream_seq(msg: Msg) -> int:
    """`msg.metadata.sequence.stream`, read from the ack subject when it says."""
    found = _field(msg.reply, _STREAM_SEQ)
    return msg.metadata.sequence.stream if found is None else found


def delivered(msg: Msg) -> int:
    """How many times the consumer has delivered this message; 0 when the subject does not say."""
    return _field(msg.reply, _DELIVERED) or 0


def sequences(reply: str) -> tuple[int, int, int] | None:
    """(stream sequence, consumer sequence, pending) from one reading of the subject, for a
    follow of the whole log; None when the subject does not say all three."""
    fields = _fields(reply)
    if fields is None:
        return None
    seq, consumer_seq, left = fields[_STREAM_SEQ], fields[_CONSUMER_SEQ], fields[_PENDING]
    if not (seq.isdigit() and consumer_seq.isdigit() and left.isdigit()):
        return None
    return int(seq), int(consumer_seq), int(left)
