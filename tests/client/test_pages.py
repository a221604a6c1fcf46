"""List iterators follow `next_cursor` through every page."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from projections.job_views import JobFilter, JobView
from tests.client.helpers import GIT, Deck, done, every
from tests.tokens import ADMIN_TOKEN


async def test_a_list_walks_every_item_across_pages(decks: Callable[[str], Deck]) -> None:
    deck = decks(ADMIN_TOKEN)
    job_type = f"pages-{uuid4().hex[:8]}"
    written = [await done(deck.create_job(job_type, GIT)) for _ in range(7)]
    seen = await every(deck.jobs(JobFilter(repo="org/repo"), min_seq=written[-1].seq, limit=3))
    assert all(isinstance(job, JobView) for job in seen)
    ours = [job.job_id for job in seen if job.job_type == job_type]
    assert ours == [str(w.value.job_id) for w in reversed(written)]
