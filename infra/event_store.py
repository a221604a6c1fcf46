"""Async event store on the EVENTS stream: optimistic concurrency per aggregate, atomic batches.

An aggregate's events live on `ev.<kind>.<id>.<event>`. An append names the sequence of the
aggregate's last event (`Nats-Expected-Last-Subject-Sequence` with the `-Subject` filter
`ev.<kind>.<id>.>`); several events, even of several aggregates, go in one atomic batch.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, NoStreamResponseError

from domain.errors import OutcomeUnknownError, UnavailableError
from infra import metrics
from infra.layout import EVENTS
from infra.nats_errors import unavailable_on_failure
from infra.replies import Replies
from infra.tokens import event_writer_key

WRONG_LAST_SEQUENCE = frozenset({10071, 10164})
"""R1 answers 10071, R3 also 10164 while another write to the subject is in flight."""
BATCH_DUPLICATE_MSG_ID = 10201
"""A retried atomic batch whose first attempt committed."""
UNANSWERED = (NatsTimeoutError, TimeoutError)
"""The append may have landed: the outcome is unknown."""
TRANSIENT = (*UNANSWERED, NoStreamResponseError, NoRespondersError)
DIRECT_GET_BATCH = 1000
END_OF_READ = frozenset({"204", "404"})
"""A batched Direct Get ends with 204 after the last message, or 404 when there is none."""


class AppendConflictError(Exception):
    """The expected sequence was stale: another writer won, or an earlier try of ours did."""


class Outgoing(NamedTuple):
    """One message to append (a named tuple: the command path makes one per event)."""

    subject: str
    payload: bytes
    msg_id: str
    expect_seq: int | None = None
    """For the first message of each aggregate: its last sequence (0 when new)."""
    expect_filter: str | None = None


class StoredMessage(NamedTuple):
    seq: int
    subject: str
    payload: bytes


class EventStore:
    def __init__(
        self,
        nc: Client,
        stream: str = EVENTS,
        timeout_s: float = 5.0,
        writer_key: bytes | None = None,
        write_timeout_s: float = 5.0,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout_s)
        self.stream = stream
        self.timeout_s = timeout_s
        self.write_timeout_s = write_timeout_s
        """An append's deadline, its retries included."""
        self.replies = Replies(nc)
        self._writer_key = writer_key

    async def key(self) -> bytes:
        """The writer key that seals and authenticates events: the one given, else the one kept
        in the config bucket (read once)."""
        if self._writer_key is None:
            self._writer_key = await event_writer_key(self.js, None)
        return self._writer_key

    async def append(self, messages: list[Outgoing], attempts: int = 3) -> int:
        """Append all or nothing; returns the last sequence. Transient failures retry as is,
        all within one deadline (a retry of an append that did land conflicts, and the runner
        then finds the command in the history).

        OutcomeUnknownError when an attempt got no answer in time: it may have landed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_timeout_s
        unanswered = False
        for attempt in range(attempts):
            try:
                seq = await self._publish(messages, deadline - loop.time())
            except AppendConflictError:
                metrics.append_conflict(messages)
                raise
            except TRANSIENT as exc:
                unanswered = unanswered or isinstance(exc, UNANSWERED)
                pause = 0.1 * 2**attempt
                if attempt == attempts - 1 or loop.time() + pause >= deadline:
                    if unanswered:
                        raise OutcomeUnknownError from exc
                    raise UnavailableError(f"event store did not answer: {exc!r}") from exc
                await asyncio.sleep(pause)
            else:
                metrics.appended(messages)
                return seq
        raise AssertionError("unreachable")

    async def _publish(self, messages: list[Outgoing], timeout_s: float) -> int:
        if len(messages) == 1:
            return await self._publish_one(messages[0], timeout_s)
        return await self._publish_batch(messages, timeout_s)

    async def _publish_one(self, message: Outgoing, timeout_s: float) -> int:
        headers = _headers(message) | {"Nats-Expected-Stream": self.stream}
        answer = await self.replies.request(message.subject, message.payload, headers, timeout_s)
        return _seq_of(answer)

    async def _publish_batch(self, messages: list[Outgoing], timeout_s: float) -> int:
        batch_id = self.nc.new_inbox().rsplit(".", 1)[-1]
        *body, last = messages
        for n, message in enumerate(body, start=1):
            await self.nc.publish(
                message.subject, message.payload, headers=_batch_headers(message, batch_id, n)
            )
        commit = _batch_headers(last, batch_id, len(messages)) | {"Nats-Batch-Commit": "1"}
        answer = await self.replies.request(last.subject, last.payload, commit, timeout_s)
        return _seq_of(answer)

    async def load(self, subject_filter: str, after_seq: int = 0) -> list[StoredMessage]:
        """Every message on `subject_filter` after `after_seq`, in order (batched Direct Get).

        The server answers a batch once it holds `batch` messages or has looked at every later
        one, so a whole aggregate is asked for exactly as many messages as its subjects hold:
        an old job's three events took 35 ms at 200,000 events when asked for up to 1,000 (the
        rest of the stream scanned), 0.7 ms when asked for three; counting them is one more
        round trip, 0.3 ms. A message appended between the two is left out: a command on it
        then finds its append refused and reads again. After `after_seq` (a cached history's
        refresh) only the few newest are asked for, and the scan after them is short."""
        left = await self._count(subject_filter) if after_seq == 0 else None
        out: list[StoredMessage] = []
        start = after_seq + 1
        while left is None or left > 0:
            batch = DIRECT_GET_BATCH if left is None else min(left, DIRECT_GET_BATCH)
            page = await self._direct_get(subject_filter, start, batch)
            out.extend(page)
            if len(page) < batch:
                break
            start = page[-1].seq + 1
            left = None if left is None else left - len(page)
        return out

    async def _count(self, subject_filter: str) -> int:
        with unavailable_on_failure(f"counting the events on {subject_filter}"):
            info = await self.js.stream_info(self.stream, subjects_filter=subject_filter)
        return sum((info.state.subjects or {}).values())

    async def _direct_get(self, subject_filter: str, start: int, batch: int) -> list[StoredMessage]:
        page: list[StoredMessage] = []
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def collect(msg: Msg) -> None:
            headers = msg.headers or {}
            if "Status" in headers:
                if not done.done():
                    done.set_result(headers["Status"])
                return
            page.append(
                StoredMessage(int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data)
            )

        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, cb=collect)
        request = {"seq": start, "next_by_subj": subject_filter, "batch": batch}
        try:
            await self.nc.publish(
                f"$JS.API.DIRECT.GET.{self.stream}", orjson.dumps(request), reply=inbox
            )
            status = await asyncio.wait_for(done, self.timeout_s)
        except TimeoutError as exc:
            raise UnavailableError(
                f"event store did not answer a read of {subject_filter}"
            ) from exc
        finally:
            await sub.unsubscribe()
        if status not in END_OF_READ:  # 503 no responders, 408...: we know nothing yet
            raise UnavailableError(f"event store answered {status} to a read of {subject_filter}")
        return page

    async def last_seq(self) -> int:
        info = await self.js.stream_info(self.stream)
        return info.state.last_seq


def _headers(message: Outgoing) -> dict[str, str]:
    headers = {"Nats-Msg-Id": message.msg_id}
    if message.expect_seq is not None:
        headers["Nats-Expected-Last-Subject-Sequence"] = str(message.expect_seq)
        if message.expect_filter is not None:
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = message.expect_filter
    return headers


def _batch_headers(message: Outgoing, batch_id: str, n: int) -> dict[str, str]:
    return _headers(message) | {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(n)}


def _seq_of(answer: dict[str, Any]) -> int:
    """The stream sequence from JetStream's answer to a publish, or our error for its error."""
    if "error" in answer:
        raise _translate(APIError(**answer["error"]))
    seq: int = answer["seq"]
    return seq


def _translate(exc: APIError) -> Exception:
    if exc.err_code in WRONG_LAST_SEQUENCE or exc.err_code == BATCH_DUPLICATE_MSG_ID:
        return AppendConflictError(str(exc))
    return UnavailableError(f"event store refused the append: {exc}")
