"""kill -9 under steady queue traffic (tests.cluster.load): of the node leading EVENTS, of an API
process, of a gateway. The service answers again, no acknowledged job is lost and none
completes twice, by the event log; what was killed comes back."""

from __future__ import annotations

import time

import pytest

from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.layout import EVENTS
from tests.cluster.chaos import under_load
from tests.cluster.deck import Deck, killed
from tests.cluster.load import Traffic
from tests.cluster.native import NativeAgents
from tests.cluster.replicas import GATEWAYS
from tests.queue_helpers import eventually

pytestmark = pytest.mark.timeout(300)


async def test_killing_the_events_leader_loses_and_doubles_nothing(deck: Deck) -> None:
    cluster = deck.cluster
    traffic = Traffic(deck.urls, "leader-kill")
    nc = await connect(cluster.address, "cluster-test-leader", cluster.logins.runtime)
    js = nc.jetstream()
    struck: list[EmbeddedServer] = []

    async def kill_leader() -> None:
        leader = await cluster.leader(js, EVENTS)
        assert leader is not None
        struck.append(leader)
        await cluster.kill(leader)

    async def restart() -> None:
        (node,) = struck
        restarted_at = time.monotonic()
        await cluster.restart(node)

        async def caught_up() -> bool:
            return await cluster.current(js, EVENTS, node)

        await eventually(caught_up, 60, f"the restarted {node.address}'s EVENTS current")
        print(f"the killed node restarted and current in {time.monotonic() - restarted_at:.1f} s")

    try:
        figures = await under_load(
            cluster, traffic, traffic.http_agent, ("EVENTS leader killed", kill_leader), restart
        )
    finally:
        await nc.close()
    assert figures.verdict.lost == []
    assert figures.verdict.doubled == []


async def test_killing_an_api_process_leaves_the_other_serving(deck: Deck) -> None:
    traffic = Traffic(deck.urls, "api-kill")
    struck_at: list[float] = []

    async def kill_api() -> None:
        struck_at.append(time.monotonic())
        await killed(deck.apis[1])

    figures = await under_load(
        deck.cluster, traffic, traffic.http_agent, ("API process killed", kill_api), answered_by=0
    )
    survivor = traffic.ledger.after(struck_at[0], replica=0)
    assert survivor
    assert all(attempt.answered for attempt in survivor)
    assert figures.verdict.lost == []
    assert figures.verdict.doubled == []


async def test_killing_a_gateway_leaves_the_native_path_serving(deck: Deck) -> None:
    traffic = Traffic(deck.urls, "gateway-kill")
    native = NativeAgents(deck.cluster, traffic)

    async def kill_gateway() -> None:
        await killed(deck.gateways[0])

    figures = await under_load(
        deck.cluster, traffic, native.agent, ("gateway killed", kill_gateway), answered_by=GATEWAYS
    )
    assert figures.verdict.lost == []
    assert figures.verdict.doubled == []
