"""One parser of JetStream's ack subject, for every field read from it, with and without a
domain; anything else falls back to nats-py or to 0."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from infra.ack_subject import delivered, sequences, stream_seq

PLAIN = "$JS.ACK.EVENTS.reader.3.1234.17.1700000000000000000.42"
WITH_DOMAIN = "$JS.ACK.hub.ACCHASH.EVENTS.reader.3.1234.17.1700000000000000000.42"
WITH_TOKEN = WITH_DOMAIN + ".x7f"


def message(reply: str) -> Msg:
    return Msg(_client=None, subject="ev.job.x.created", reply=reply)  # type: ignore[arg-type]


@pytest.mark.parametrize("reply", [PLAIN, WITH_DOMAIN, WITH_TOKEN])
def test_each_field_is_read_from_each_form(reply: str) -> None:
    msg = message(reply)
    assert (stream_seq(msg), delivered(msg)) == (1234, 3)
    assert sequences(reply) == (1234, 17, 42)


@pytest.mark.parametrize("reply", ["", "_INBOX.abc", "$JS.ACK.EVENTS.reader.3", "$JS.ACK.a.b.c.d"])
def test_a_subject_that_does_not_say_counts_as_zero(reply: str) -> None:
    msg = message(reply)
    assert delivered(msg) == 0


def test_a_stream_sequence_it_cannot_read_comes_from_nats_py() -> None:
    with pytest.raises(NotJSMessageError):
        stream_seq(message("_INBOX.abc"))


@pytest.mark.parametrize(
    "reply",
    ["_INBOX.abc", "$JS.ACK.a.b.c.d", "$JS.ACK.EVENTS.reader.3.x.17.1700000000000000000.42"],
)
def test_sequences_it_cannot_read_are_none(reply: str) -> None:
    assert sequences(reply) is None
