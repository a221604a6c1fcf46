"""Read-your-writes across API replicas: each keeps read models of its own, fed from the stream,
so a read on one replica sees a write made through the other once it passes the write's `seq`
as `min_seq`."""

from __future__ import annotations

from client import AsyncJetDeck
from domain.job_status import JobStatus
from tests.cluster.deck import Deck
from tests.cluster.load import GIT
from tests.tokens import ADMIN_TOKEN

ROUNDS = 10


async def test_a_write_to_one_replica_is_read_from_the_other_with_min_seq(deck: Deck) -> None:
    replicas = [AsyncJetDeck(url, ADMIN_TOKEN) for url in deck.urls]
    try:
        for n in range(ROUNDS):
            writer, reader = replicas[n % 2], replicas[(n + 1) % 2]
            created = await writer.create_job("test", GIT, {"round": str(n)})
            job_id = created.value.job_id
            seen = await reader.get_job(job_id, min_seq=created.seq)
            assert seen.metadata == {"round": str(n)}
            started = await writer.start_job(job_id)
            assert (await reader.get_job(job_id, min_seq=started.seq)).status == JobStatus.RUNNING
            done = await reader.complete_job(job_id, JobStatus.SUCCESS, exit_code=0)
            assert (await writer.get_job(job_id, min_seq=done.seq)).status == JobStatus.SUCCESS
    finally:
        for replica in replicas:
            await replica.aclose()
