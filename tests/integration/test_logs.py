"""LogStore on a real nats-server: order, resumed reads, retried batches, following, job ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from uuid import uuid4

from nats.aio.client import Client

from domain.job_status import JobStatus
from infra.commands import CommandRunner
from infra.logs import JobEnd, LogChunk, LogStore, NewChunk, OutputStream
from tests.integration.helpers import complete_job, create_job, start_job

WITHIN_S = 10.0
"""Deadline for something that must happen, never a measure of speed."""


def lines(*texts: str, stream: OutputStream = "stdout") -> list[NewChunk]:
    return [NewChunk(stream, t) for t in texts]


async def next_chunk(follow: AsyncGenerator[LogChunk, None]) -> LogChunk:
    return await asyncio.wait_for(anext(follow), WITHIN_S)


async def test_chunks_read_back_in_the_order_they_were_appended(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    first = await logs.append(job, 1, lines("a\n", "b\n") + lines("oops\n", stream="stderr"))
    second = await logs.append(job, 1, lines("c\n"))
    await logs.append(str(uuid4()), 1, lines("another job\n"))

    chunks = await logs.read(job)

    assert [c.text for c in chunks] == ["a\n", "b\n", "oops\n", "c\n"]
    assert [c.stream for c in chunks] == ["stdout", "stdout", "stderr", "stdout"]
    assert [c.seq for c in chunks] == first + second
    assert first + second == sorted(first + second)
    assert {c.attempt for c in chunks} == {1}


async def test_a_read_resumes_after_a_sequence(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    seqs = await logs.append(job, 1, lines(*(f"{n}\n" for n in range(5))))

    later = await logs.read(job, after_seq=seqs[2])

    assert [c.text for c in later] == ["3\n", "4\n"]
    assert await logs.read(str(uuid4())) == []
    assert await logs.last_seq(job) == seqs[-1]
    assert await logs.last_seq(str(uuid4())) == 0


async def test_a_long_log_reads_back_whole_across_direct_get_pages(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    for batch in range(10):
        await logs.append(job, 1, lines(*(f"{batch}-{n}\n" for n in range(256))))

    chunks = await logs.read(job)

    assert [c.text for c in chunks] == [f"{b}-{n}\n" for b in range(10) for n in range(256)]


async def test_a_retried_batch_with_its_offset_is_stored_once(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    first = await logs.append(job, 1, lines("a\n", "b\n"), offset=0, writer="claim-1")
    again = await logs.append(job, 1, lines("a\n", "b\n"), offset=0, writer="claim-1")
    await logs.append(job, 1, lines("c\n"), offset=2, writer="claim-1")
    # released and claimed again: the same attempt number, another claim with its own count
    await logs.append(job, 1, lines("a2\n"), offset=0, writer="claim-2")

    assert again == first
    assert [c.text for c in await logs.read(job)] == ["a\n", "b\n", "c\n", "a2\n"]


async def test_follow_yields_chunks_appended_after_it_started(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    seqs = await logs.append(job, 1, lines("before\n"))
    ended = asyncio.Event()
    follow = logs.follow(job, seqs[-1], ended)

    await logs.append(job, 1, lines("one\n"))
    assert (await next_chunk(follow)).text == "one\n"
    await logs.append(job, 1, lines("two\n", "three\n"))
    assert [(await next_chunk(follow)).text for _ in range(2)] == ["two\n", "three\n"]

    ended.set()
    assert await asyncio.wait_for(_collect(follow), WITHIN_S) == []


async def test_follow_ends_only_after_every_chunk_stored_before_the_end(nc: Client) -> None:
    logs = LogStore(nc)
    job = str(uuid4())
    ended = asyncio.Event()
    follow = logs.follow(job, 0, ended)
    await logs.append(job, 1, lines("first\n"))
    assert (await next_chunk(follow)).text == "first\n"

    await logs.append(job, 1, lines(*(f"{n}\n" for n in range(100))))
    ended.set()

    rest = await asyncio.wait_for(_collect(follow), WITHIN_S)
    assert [c.text for c in rest] == [f"{n}\n" for n in range(100)]


async def test_follow_of_a_finished_job_with_no_output_ends_at_once(nc: Client) -> None:
    ended = asyncio.Event()
    ended.set()
    follow = LogStore(nc).follow(str(uuid4()), 0, ended)

    assert await asyncio.wait_for(_collect(follow), WITHIN_S) == []


async def test_job_end_is_set_when_the_job_finishes(commands: CommandRunner, nc: Client) -> None:
    job = (await create_job(commands)).aggregate
    await start_job(commands, job.id)

    async with JobEnd(nc, job.id) as end:
        assert not end.ended.is_set()
        await complete_job(commands, job.id, JobStatus.FAILED)
        await asyncio.wait_for(end.ended.wait(), WITHIN_S)

    assert end.status is JobStatus.FAILED


async def test_job_end_of_a_job_already_finished_is_set_from_the_start(
    commands: CommandRunner, nc: Client
) -> None:
    job = (await create_job(commands)).aggregate
    await start_job(commands, job.id)
    await complete_job(commands, job.id, JobStatus.SUCCESS)

    async with JobEnd(nc, job.id) as end:
        await asyncio.wait_for(end.ended.wait(), WITHIN_S)

    assert end.status is JobStatus.SUCCESS


async def _collect(follow: AsyncGenerator[LogChunk, None]) -> list[LogChunk]:
    return [chunk async for chunk in follow]
