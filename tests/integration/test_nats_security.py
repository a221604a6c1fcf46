"""The embedded server lets no one in without a password, and each user do only its part.

A denied JetStream API call gets no answer: the client times out and the violation arrives on
its error callback. So denied calls get short timeouts, and the stream is checked afterwards.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import bcrypt
import nats
import orjson
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js.api import StreamConfig

from domain.errors import UnavailableError
from infra.embedded_server import EmbeddedServer, free_port, server_binary
from infra.layout import CONFIG_BUCKET, EVENTS, apply_layout
from infra.nats_auth import (
    AGENT_INBOX,
    AGENT_PUBLISH,
    AGENT_SUBSCRIBE,
    CONFIG_FILE,
    RUNTIME_DENY,
    RUNTIME_PUBLISH,
    RUNTIME_SUBSCRIBE,
)
from infra.settings import Login, Settings
from workers.gateway import create_app
from workers.supervisor import embedded, worker_env

DENIED_S = 0.5
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "nats-server.example.conf"


@dataclass
class Watched:
    """A connection and the asynchronous errors the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    async def violation(self, subject: str, within_s: float = 5.0) -> None:
        """Until the server reports a violation on `subject` (nats-py lowercases the report)."""
        wanted = f'"{subject.lower()}"'
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not any("violation" in e and wanted in e for e in self.errors):
            assert loop.time() < deadline, f"no violation for {subject!r}, only {self.errors}"
            await asyncio.sleep(0.02)


@asynccontextmanager
async def watched(url: str, **options: Any) -> AsyncIterator[Watched]:
    errors: list[str] = []

    async def collect(exc: Exception) -> None:
        errors.append(str(exc).lower())

    nc = await nats.connect(url, error_cb=collect, allow_reconnect=False, **options)
    try:
        yield Watched(nc, errors)
    finally:
        await nc.close()


async def denied(call: Awaitable[object]) -> None:
    """A denied JetStream API call mostly gets no answer and times out; at times the server
    answers that no one listens."""
    with pytest.raises((TimeoutError, NoRespondersError)):
        await call


async def answered(nc: Client, subject: str, within_s: float = 10.0) -> Msg:
    """The gateway's subscription reaches the server a moment after its app has started."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            return await nc.request(subject, b"{}", timeout=within_s)
        except NoRespondersError:
            assert loop.time() < deadline, f"no one answers on {subject}"
            await asyncio.sleep(0.02)


async def refused(url: str) -> list[str]:
    errors: list[str] = []

    async def collect(exc: Exception) -> None:
        errors.append(str(exc))

    with pytest.raises(NatsError):
        await nats.connect(url, error_cb=collect, allow_reconnect=False, connect_timeout=2)
    return errors


async def test_no_connection_without_credentials_or_with_a_wrong_password(
    fresh_server: EmbeddedServer,
) -> None:
    wrong = fresh_server.url_for(Login(fresh_server.logins.runtime.user, "wrong"))
    for url in (fresh_server.address, wrong):
        assert "Authorization Violation" in " ".join(await refused(url))


async def test_the_agent_may_only_ask_the_gateway(fresh_server: EmbeddedServer) -> None:
    runtime = await nats.connect(fresh_server.url)
    agent_url = fresh_server.url_for(fresh_server.logins.agent)
    try:
        before = (await runtime.jetstream().stream_info(EVENTS)).state.last_seq
        async with watched(agent_url, inbox_prefix=AGENT_INBOX) as agent:
            await agent.nc.publish("ev.job.1.created", b"{}")
            await agent.violation("ev.job.1.created")
            await denied(agent.nc.jetstream(timeout=DENIED_S).key_value(CONFIG_BUCKET))
            await agent.violation(f"$JS.API.STREAM.INFO.KV_{CONFIG_BUCKET}")
            await agent.nc.subscribe(f"$KV.{CONFIG_BUCKET}.>")
            await agent.violation(f"$KV.{CONFIG_BUCKET}.>")
            await agent.nc.subscribe("_INBOX.>")
            await agent.violation("_INBOX.>")
            async with create_app(Settings(nats_url=fresh_server.url)):
                reply = await answered(agent.nc, "jetdeck.queue.nothing")
        assert orjson.loads(reply.data)["status"] == 404
        assert (await runtime.jetstream().stream_info(EVENTS)).state.last_seq == before
    finally:
        await runtime.close()


async def test_the_runtime_appends_and_uses_kv_but_cannot_reconfigure_events(
    fresh_server: EmbeddedServer,
) -> None:
    async with watched(fresh_server.url) as runtime:
        js = runtime.nc.jetstream()
        assert (await js.publish("ev.test.1.created", b"{}")).stream == EVENTS
        kv = await js.key_value(CONFIG_BUCKET)
        await kv.put("probe", b"1")
        assert (await kv.get("probe")).value == b"1"
        before = await js.stream_info(EVENTS)
        js_denied = runtime.nc.jetstream(timeout=DENIED_S)
        await denied(js_denied.delete_stream(EVENTS))
        await runtime.violation(f"$JS.API.STREAM.DELETE.{EVENTS}")
        await denied(js_denied.update_stream(replace(before.config, max_msgs=10)))
        await runtime.violation(f"$JS.API.STREAM.UPDATE.{EVENTS}")
        await denied(js_denied.purge_stream(EVENTS))
        await runtime.violation(f"$JS.API.STREAM.PURGE.{EVENTS}")
        await denied(js_denied.add_stream(StreamConfig(name="ROGUE", subjects=["rogue.>"])))
        await runtime.violation("$JS.API.STREAM.CREATE.ROGUE")
        after = await js.stream_info(EVENTS)
        assert after.config == before.config
        assert after.state.messages == before.state.messages == 1


async def test_passwords_are_private_and_the_server_config_holds_only_their_hashes(
    fresh_server: EmbeddedServer,
) -> None:
    auth = fresh_server.store_dir / "auth"
    config = (auth / CONFIG_FILE).read_text()
    hashes = {u["user"]: u["password"] for u in json.loads(config)["authorization"]["users"]}
    log = fresh_server.log_path.read_text()
    assert stat.S_IMODE((auth / CONFIG_FILE).stat().st_mode) == 0o600
    for login in fresh_server.logins:
        path = auth / f"{login.user}.password"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == login.password
        assert len(login.password) >= 43  # 256 random bits in base64
        assert login.password not in config
        assert login.password not in log
        assert bcrypt.checkpw(login.password.encode(), hashes[login.user].encode())


async def test_a_restart_on_the_same_data_dir_keeps_credentials_and_data(tmp_path: Path) -> None:
    first = EmbeddedServer(tmp_path / "nats", free_port())
    await first.start()
    try:
        await apply_layout(first.admin_url, None, replicas=1)
        async with watched(first.url) as runtime:
            await runtime.nc.jetstream().publish("ev.test.1.created", b"{}")
    finally:
        await first.stop()
    again = EmbeddedServer(tmp_path / "nats", free_port())
    await again.start()
    try:
        assert again.logins == first.logins
        async with watched(again.url) as runtime:
            assert (await runtime.nc.jetstream().stream_info(EVENTS)).state.messages == 1
    finally:
        await again.stop()


async def test_workers_get_the_runtime_credential_never_the_layout_one(
    fresh_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JETDECK_NATS_ADMIN_USER", "someone")
    monkeypatch.setenv("JETDECK_NATS_ADMIN_PASSWORD", "from-the-environment")
    settings = embedded(Settings(), fresh_server)
    env = worker_env(settings)
    assert settings.layout_login == fresh_server.logins.admin
    runtime = Login(env["JETDECK_NATS_USER"], env["JETDECK_NATS_PASSWORD"])
    assert runtime == fresh_server.logins.runtime
    assert env["JETDECK_NATS_URL"] == fresh_server.address
    assert [k for k in env if "ADMIN" in k] == []
    assert fresh_server.logins.admin.password not in env.values()


async def test_a_server_that_cannot_start_says_why(
    fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    same_port = EmbeddedServer(tmp_path / "second", fresh_server.port)
    with pytest.raises(UnavailableError, match="address already in use"):
        await same_port.start()


async def test_the_example_config_is_valid_and_grants_what_the_embedded_one_does() -> None:
    check = await asyncio.create_subprocess_exec(
        str(server_binary()),
        *("-t", "-c", str(EXAMPLE)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await check.communicate()
    assert check.returncode == 0, output.decode()
    text = EXAMPLE.read_text()
    subjects = RUNTIME_PUBLISH + RUNTIME_DENY + RUNTIME_SUBSCRIBE + AGENT_PUBLISH + AGENT_SUBSCRIBE
    assert [s for s in subjects if f'"{s}"' not in text] == []
    assert "allow_responses: true" in text
