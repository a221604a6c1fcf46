"""A 3-node JetStream cluster with R3 streams, and JetDeck scaled out on it (tests.cluster.deck),
shared by the package's tests. Each test that breaks something mends it; every test starts with
every process up and both APIs ready."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from infra.embedded_cluster import EmbeddedCluster, free_ports
from infra.layout import apply_layout
from tests.cluster.deck import Deck
from workers.cluster import REPLICAS


@pytest.fixture(scope="package")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedCluster]:
    found = EmbeddedCluster(tmp_path_factory.mktemp("cluster"), free_ports())
    try:
        await found.start()
        await apply_layout(found.address, found.logins.admin, REPLICAS)
        yield found
    finally:
        await found.stop()


@pytest.fixture(scope="package")
async def scaled_out(
    cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deck]:
    found = Deck(cluster, tmp_path_factory.mktemp("deck"))
    try:
        await found.start()
        yield found
    finally:
        await found.stop()


@pytest.fixture
async def deck(scaled_out: Deck) -> AsyncIterator[Deck]:
    """The scaled-out JetDeck, every process up; what they wrote during the test is printed when
    it ends (shown if it fails)."""
    await scaled_out.all_ready()
    sizes = scaled_out.log_sizes()
    yield scaled_out
    print(scaled_out.outputs(sizes))
