"""Login sessions: an opaque id in the browser's cookie (or a script's bearer), a record in KV.

JetDeck keeps only the id's SHA-256, as the key, so whoever reads the bucket opens no session.
The key's own TTL is the idle timeout, renewed as the session is used; the absolute lifetime is
checked here from the record's `created`, since every write starts a fresh TTL.

A read goes to the stream's leader, but costs more than authenticating a request may, so each
process caches what it read. A watch on the bucket drops a key's entry at any write to it (a
renewal or a logout, on any replica), so a logout holds here from its answer on and on the other
processes within the watch's latency. The server marks no TTL lapsing, so both timeouts are
checked at every hit; an entry older than `CACHE_FRESH_S` is read again, which bounds how long a
write the watch missed (while disconnected, say) can go unseen.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, Header
from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as SchemaError

from domain.errors import UnauthorizedError, UnavailableError
from infra.access import new_secret, sha256
from infra.layout import SESSIONS_BUCKET

SESSION_PREFIX = "jdses_"
WRONG_LAST_SEQUENCE = 10071
"""The server's answer to a write whose expected last sequence is stale."""
PURGE_MARKER_TTL_S = 1
"""A purge leaves a marker for its key; the watches take it at once, so it may go soon."""
KEY_SUBJECT_PREFIX = f"$KV.{SESSIONS_BUCKET}."
CACHE_FRESH_S = 2.0
"""A cached session older than this is read again: the longest a write the watch missed can go
unseen, a logout included."""


@dataclass(frozen=True)
class LoginIdentity:
    """Who a provider vouched for: its name, its own id for the person, their verified email."""

    provider: str
    subject: str
    email: str


class SessionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    provider: str
    subject: str
    csrf: str
    """A cookie-authenticated write must echo it in `X-CSRF-Token`."""
    created: float
    touched_at: float


@dataclass(frozen=True)
class Session:
    key: str
    record: SessionRecord
    revision: int
    expires_at: float
    """Unix time: the idle timeout or the absolute lifetime, whichever comes first."""


@dataclass(frozen=True)
class _Cached:
    session: Session
    heard_at: float
    """`time.monotonic()` when the server answered with this revision (a read or a renewal)."""


class SessionStore:
    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        idle_s: int,
        max_s: int,
        fresh_s: float = CACHE_FRESH_S,
    ) -> None:
        self.js = js
        self.kv = kv
        self.idle_s = idle_s
        self.max_s = max_s
        self.fresh_s = fresh_s
        self._cache: dict[str, _Cached] = {}
        """By key, in the order heard, so entries too old to use are pruned from the front."""
        self._generation = 0
        """Bumped at every write seen: a read begun before one may hold what it replaced."""
        self._watch: JetStreamContext.PushSubscription | None = None

    async def start(self) -> None:
        """Watch the bucket's new writes. Headers alone: a write says only that a key's cached
        session is out of date, whatever it holds (a renewal, a purge, the server's marker)."""
        self._watch = await self.js.subscribe(
            f"{KEY_SUBJECT_PREFIX}>",
            stream=f"KV_{SESSIONS_BUCKET}",
            cb=self._on_write,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
            headers_only=True,
        )

    async def stop(self) -> None:
        if self._watch is not None:
            await self._watch.unsubscribe()
            self._watch = None

    async def create(self, identity: LoginIdentity) -> str:
        """A new session's secret: a new id at every login, so none can be planted."""
        secret = new_secret(SESSION_PREFIX)
        now = time.time()
        record = SessionRecord(
            email=identity.email,
            provider=identity.provider,
            subject=identity.subject,
            csrf=secrets.token_urlsafe(32),
            created=now,
            touched_at=now,
        )
        try:
            await self.kv.create(sha256(secret), _encode(record), msg_ttl=self.idle_s)
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"session bucket did not answer: {exc!r}") from exc
        return secret

    async def open(self, secret: str) -> Session:
        """The live session `secret` opens; its idle timeout is renewed once a quarter of it has
        passed, so a busy session costs a write every quarter, not every request."""
        key = sha256(secret)
        session = self._cached(key) or await self._load(key)
        if time.time() - session.record.touched_at > self.idle_s / 4:
            return await self.touch(session)
        return session

    async def touch(self, session: Session) -> Session:
        """Renew the idle timeout. `KeyValue.update` takes no TTL, so this is its raw publish:
        the write lands only on the revision read, which a logout in between has replaced."""
        record = session.record.model_copy(update={"touched_at": time.time()})
        headers = {Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(session.revision)}
        subject = f"{KEY_SUBJECT_PREFIX}{session.key}"
        generation = self._generation
        try:
            ack = await self.js.publish(
                subject, _encode(record), headers=headers, msg_ttl=self.idle_s
            )
        except APIError as exc:
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise UnavailableError(f"session bucket refused a renewal: {exc!r}") from exc
            return session  # a concurrent request renewed it, or a logout ended it: next read
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"session bucket did not answer: {exc!r}") from exc
        renewed = self._session(session.key, record, ack.seq)
        self._keep(renewed, generation)
        return renewed

    async def end(self, session: Session) -> None:
        await self._end(session.key)

    def _cached(self, key: str) -> Session | None:
        cached = self._cache.get(key)
        if cached is None or time.monotonic() - cached.heard_at > self.fresh_s:
            return None
        if time.time() >= cached.session.expires_at:
            return None  # the read says whether it ended or was renewed elsewhere
        return cached.session

    async def _load(self, key: str) -> Session:
        generation = self._generation
        session = await self._read(key)
        self._keep(session, generation)
        return session

    def _keep(self, session: Session, generation: int) -> None:
        """Cache what the server answered, unless a write was seen since the question: the answer
        may predate it. A revision never replaces a newer one cached meanwhile."""
        held = self._cache.get(session.key)
        newer_held = held is not None and held.session.revision > session.revision
        if generation != self._generation or newer_held:
            return
        self._cache.pop(session.key, None)  # re-inserted last: the dict stays in order heard
        now = time.monotonic()
        self._cache[session.key] = _Cached(session, now)
        while (oldest := next(iter(self._cache.values()))).heard_at < now - self.fresh_s:
            del self._cache[oldest.session.key]

    async def _on_write(self, msg: Msg) -> None:
        """Any write to a key outdates its entry, unless the entry already holds that write: this
        process's own renewal, cached from its acknowledgement."""
        self._generation += 1
        key = msg.subject.removeprefix(KEY_SUBJECT_PREFIX)
        held = self._cache.get(key)
        if held is not None and held.session.revision < msg.metadata.sequence.stream:
            del self._cache[key]

    def _forget(self, key: str) -> None:
        self._generation += 1  # a read under way may hold what was just ended
        self._cache.pop(key, None)

    async def _read(self, key: str) -> Session:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            raise UnauthorizedError("no such session: never made, ended or idle too long") from None
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"session bucket did not answer: {exc!r}") from exc
        if not entry.value or entry.revision is None:
            raise UnauthorizedError("the session's key holds no record")
        try:
            record = SessionRecord.model_validate_json(entry.value)
        except SchemaError:
            raise UnauthorizedError("the session's record does not decode") from None
        if time.time() >= record.created + self.max_s:
            await self._end(key)
            raise UnauthorizedError("the session reached its maximum lifetime")
        session = self._session(key, record, entry.revision)
        if time.time() >= session.expires_at:
            raise UnauthorizedError("the session was idle too long; the server drops it soon")
        return session

    async def _end(self, key: str) -> None:
        try:
            await self.kv.purge(key, msg_ttl=PURGE_MARKER_TTL_S)
        except (NatsError, TimeoutError) as exc:
            raise UnavailableError(f"session bucket did not answer: {exc!r}") from exc
        self._forget(key)

    def _session(self, key: str, record: SessionRecord, revision: int) -> Session:
        expires_at = min(record.touched_at + self.idle_s, record.created + self.max_s)
        return Session(key, record, revision, expires_at)


def _encode(record: SessionRecord) -> bytes:
    return record.model_dump_json().encode()
