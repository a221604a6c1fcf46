"""Races on a real server, checked against the event log. Sixteen agents, each on its own NATS
connection, drain 2,000 jobs while one in eight fails its first attempt and comes back: every
attempt is claimed by one agent and every job completed once. Enqueues racing on one unique key
from four API processes create one job."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import uuid4

from domain.commands.results import ClaimGrant
from domain.job import Job
from domain.job_reports import FailureReport
from domain.queue import FailureClass, QueueSpec
from infra.embedded_server import EmbeddedServer
from infra.layout import QUEUE
from infra.queue import QueueService
from tests.queue_helpers import (
    GIT,
    cause,
    claim,
    enqueue_many,
    events,
    eventually,
    job_log,
    own_connections,
    per_job,
    queue_drained,
    queue_services,
    run,
    stream_messages,
)

AGENTS = 16
JOBS = 2000


def fails_first(grant: ClaimGrant) -> bool:
    return grant.job.attempts == 1 and grant.job.id.int % 8 == 0


async def drain(queue: QueueService, agent_id: str, done: set[str], granted: Counter[str]) -> None:
    while len(done) < JOBS:
        grant = await claim(queue, agent_id, wait_s=0.2)
        if grant is None:
            continue
        granted[f"{grant.job.id}/{grant.job.attempts}"] += 1
        if fails_first(grant):
            report = FailureReport(error="flaky", failure_class=FailureClass.INFRA)
            await queue.fail(cause("job.fail"), grant.job.id, grant.token, report)
        else:
            await run(queue, grant)
            done.add(str(grant.job.id))


async def test_concurrent_agents_claim_each_attempt_once_and_complete_each_job_once(
    fresh_server: EmbeddedServer,
) -> None:
    async with (
        # ack_wait 1 s: a claim slowed down by the load sees its ticket redelivered to others
        queue_services(fresh_server.url, retry_base_s=0.05, queue_ack_wait_s=1) as (api,),
        own_connections(api, AGENTS) as agents,
    ):
        jobs = {str(job) for _ in range(JOBS // 100) for job in await enqueue_many(api, 100)}

        async def all_queued() -> bool:
            return await stream_messages(api, QUEUE) == JOBS

        await eventually(all_queued, 30, "every job is in QUEUE")
        done: set[str] = set()
        granted: Counter[str] = Counter()
        work = (drain(queue, f"agent-{n}", done, granted) for n, queue in enumerate(agents))
        await asyncio.wait_for(asyncio.gather(*work), 90)
        log = await job_log(api.store)
        await queue_drained(api)
    assert done == jobs
    assert set(granted.values()) == {1}
    claims = Counter((e.originator_id, e.attempt) for e in events(log, Job.Claimed))
    assert set(claims.values()) == {1}
    assert len(claims) == len(granted) == JOBS + len(events(log, Job.Failed))
    assert per_job(log, Job.Completed) == Counter(dict.fromkeys(jobs, 1))
    assert len(events(log, Job.Failed)) > JOBS // 10


async def test_racing_enqueues_with_one_unique_key_create_one_job(
    fresh_server: EmbeddedServer,
) -> None:
    spec = QueueSpec(unique_key="deploy-main")
    async with queue_services(fresh_server.url, 4) as apis:
        racers = [
            api.queue.enqueue(cause("job.enqueue"), uuid4(), "build", GIT, {}, spec)
            for api in apis
            for _ in range(8)
        ]
        answers = await asyncio.gather(*racers)
        log = await job_log(apis[0].store)
    [job_id] = {answer.aggregate.id for answer in answers}
    assert [answer.replayed for answer in answers].count(False) == 1
    assert per_job(log, Job.Created) == Counter({str(job_id): 1})
    assert {r.aggregate_id for r in log} == {str(job_id)}
