"""Agents on the native path: requests on `jetdeck.queue.<op>` over the `agent` NATS user, which
whichever gateway the server picks answers. A request with no answer (a gateway gone, a server
gone) is sent again with the same idempotency key, as a real agent would."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import uuid4

import nats
import orjson
from nats.aio.client import Client
from nats.errors import Error as NatsError

from infra.embedded_cluster import EmbeddedCluster
from infra.nats_auth import AGENT_INBOX
from infra.settings import split_servers
from tests.cluster.deck import WRITE_TIMEOUT_S
from tests.cluster.load import CLAIM_WAIT_S, LEASE_LOST, Traffic
from tests.cluster.replicas import BETWEEN_S, GATEWAYS, PATIENCE_S

Reply = dict[str, Any]
ANSWER_SLACK_S = WRITE_TIMEOUT_S + 2
"""How long past its own wait a request may take before it counts as unanswered."""
RETRIED = frozenset({503})


class NativeAgents:
    def __init__(self, cluster: EmbeddedCluster, traffic: Traffic) -> None:
        self.cluster = cluster
        self.traffic = traffic

    async def agent(self, n: int, agent_id: str, token: str) -> None:
        """Claims, starts and completes over NATS (an `Agent` for `Traffic.start`)."""
        login = self.cluster.logins.agent
        nc = await nats.connect(
            servers=split_servers(self.cluster.address),
            name=f"chaos-native-{n}",
            user=login.user,
            password=login.password,
            inbox_prefix=AGENT_INBOX,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        traffic = self.traffic
        try:
            while traffic.working.is_set():
                claim = {"agent_id": agent_id, "pool": traffic.pool, "wait_s": CLAIM_WAIT_S}
                grant = await self.ask(nc, "claim", claim | {"agent_token": token})
                if grant["status"] == 204:
                    continue
                job_id = grant["job"]["job_id"]
                traffic.touched.add(job_id)
                lease = {
                    "job_id": job_id,
                    "claim_token": grant["claim_token"],
                    "agent_token": token,
                }
                started = await self.ask(nc, "start", lease | {"idempotency_key": uuid4().hex})
                if started["status"] == LEASE_LOST:
                    continue
                done = {"exit_code": 0, "idempotency_key": uuid4().hex}
                if (await self.ask(nc, "complete", lease | done))["status"] == LEASE_LOST:
                    continue
                traffic.completed.add(job_id)
        finally:
            await nc.close()

    async def ask(self, nc: Client, operation: str, body: Reply) -> Reply:
        """The answer, sent again unchanged until one comes that is not a 503; a status other
        than 200, 204 or a lost lease fails the traffic."""
        raw = orjson.dumps(body)
        write = operation != "claim"
        timeout_s = (0 if write else CLAIM_WAIT_S) + ANSWER_SLACK_S
        deadline = time.monotonic() + PATIENCE_S
        while True:
            start = time.monotonic()
            try:
                reply = await nc.request(f"jetdeck.queue.{operation}", raw, timeout=timeout_s)
                answer: Reply = orjson.loads(reply.data)
            except (NatsError, TimeoutError):
                answer = {"status": None}
            answered = answer["status"] not in RETRIED and answer["status"] is not None
            self.traffic.ledger.note(GATEWAYS, write, start, answered)
            if answered:
                if answer["status"] not in (200, 204, LEASE_LOST):
                    raise AssertionError(f"native {operation}: {answer}")
                return answer
            assert time.monotonic() < deadline, f"native {operation}: no answer in {PATIENCE_S}s"
            await asyncio.sleep(BETWEEN_S)
