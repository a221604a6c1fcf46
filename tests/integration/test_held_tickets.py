"""Tickets a process holds for its next claims (`claim_prefetch`, infra/claims.py): a claim takes
one without a pull, a higher ticket still goes first, and held tickets go back to the consumer
once held a poll interval, whatever claims come meanwhile, and when the process stops, long
before the `ack_wait` backstop.
Checked against the pulls the server receives and the QUEUE consumer's own count of tickets
out."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from domain.job import Job
from domain.queue import Priority
from infra.embedded_server import EmbeddedServer
from infra.layout import QUEUE
from infra.services import Services
from tests.integration.helpers import requests_to
from tests.queue_helpers import (
    claim,
    enqueue,
    events,
    eventually,
    job_log,
    must_claim,
    queue_services,
    tickets_out,
)

PREFETCH = 4
PULLS = f"$JS.API.CONSUMER.MSG.NEXT.{QUEUE}.>"


async def queued(services: Services, count: int, priority: Priority = Priority.NORMAL) -> list[str]:
    """Jobs whose tickets the pool's dispatcher heard of: a claim then asks their level before any
    lower one, and no signal coming later makes it ask again, a pull the tests do not expect."""
    level = services.queue.dispatchers.of("default").by_priority[priority]
    signals = level.signals
    jobs = [str(await enqueue(services, priority=priority)) for _ in range(count)]
    await eventually(lambda: level.signals == signals + count, 5, "every ticket signalled")
    return jobs


async def taken_at_once(services: Services, count: int) -> list[str]:
    """Claims that do not wait: a ticket out until `ack_wait` (60 s here) is not there."""
    grants = [await claim(services.queue, "agent-2") for _ in range(count)]
    return [str(g.job.id) if g is not None else "none" for g in grants]


async def test_a_claim_takes_a_held_ticket_without_a_pull(
    fresh_server: EmbeddedServer, admin_nc: Client
) -> None:
    async with queue_services(fresh_server.url, claim_prefetch=PREFETCH, claim_poll_s=5) as (api,):
        jobs = await queued(api, 3)
        first = await must_claim(api.queue)
        assert await tickets_out(admin_nc) == 3, "the claimed ticket and the two others, held"
        async with requests_to(admin_nc, PULLS) as pulls:
            second = await must_claim(api.queue)
        assert [str(first.job.id), str(second.job.id)] == jobs[:2], "in the order queued"
        assert pulls == []


async def test_a_higher_ticket_goes_before_those_held(fresh_server: EmbeddedServer) -> None:
    async with queue_services(fresh_server.url, claim_prefetch=PREFETCH, claim_poll_s=5) as (api,):
        normal = await queued(api, 3)
        await must_claim(api.queue)
        dispatcher = api.queue.dispatchers.of("default")
        assert dispatcher.held == 2
        (critical,) = await queued(api, 1, Priority.CRITICAL)
        taken = [str((await must_claim(api.queue)).job.id) for _ in range(3)]
        assert taken == [critical, *normal[1:]]


async def test_held_tickets_go_back_when_no_claim_comes(fresh_server: EmbeddedServer) -> None:
    async with queue_services(
        fresh_server.url, 2, claim_prefetch=PREFETCH, claim_poll_s=0.2, queue_ack_wait_s=60
    ) as (holder, other):
        jobs = await queued(holder, 3)
        await must_claim(holder.queue)
        assert holder.queue.dispatchers.of("default").held == 2

        dispatcher = holder.queue.dispatchers.of("default")
        await eventually(lambda: dispatcher.held == 0, 5, "the held tickets let go")
        await holder.nc.flush()  # the server has had the releases: it answers in order
        assert await taken_at_once(other, 2) == jobs[1:]


async def test_held_tickets_go_back_while_claims_take_higher_ones(
    fresh_server: EmbeddedServer,
) -> None:
    """Claims served from a higher level do not keep lower tickets held: a level's go back once
    the first of them was held `claim_poll_s`, as other processes' claims may wait for them."""
    async with queue_services(
        fresh_server.url, claim_prefetch=PREFETCH, claim_poll_s=0.2, queue_ack_wait_s=60
    ) as (api,):
        await queued(api, 3, priority=Priority.LOW)
        await must_claim(api.queue)
        low = api.queue.dispatchers.of("default").by_priority[Priority.LOW]
        first_held = [ticket for ticket, _ in low.held]
        assert len(first_held) == 2
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.0
        while loop.time() < until:  # a critical claim at least every 0.2 s
            (critical,) = await queued(api, 1, Priority.CRITICAL)
            assert str((await must_claim(api.queue)).job.id) == critical
        assert not any(ticket in first_held for ticket, _ in low.held)


async def test_a_stopping_process_lets_its_held_tickets_go_at_once(
    fresh_server: EmbeddedServer, admin_nc: Client
) -> None:
    async with queue_services(
        fresh_server.url, claim_prefetch=PREFETCH, claim_poll_s=5, queue_ack_wait_s=60
    ) as (other,):
        async with queue_services(
            fresh_server.url, claim_prefetch=PREFETCH, claim_poll_s=5, queue_ack_wait_s=60
        ) as (holder,):
            jobs = await queued(holder, 3)
            await must_claim(holder.queue)
            assert await tickets_out(admin_nc) == 3
        assert sorted(await taken_at_once(other, 2)) == sorted(jobs[1:])
        claimed = events(await job_log(other.store), Job.Claimed)
    assert sorted(str(e.originator_id) for e in claimed) == sorted(jobs)
