"""Following a job's log: its stored chunks, then new ones as they arrive, until the job ends or
the follow reaches its time limit. Shared by the JSON log stream (`api.routes.logs`) and the job
page's live stream (`api.live`), which only render the items differently."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from uuid import UUID

from domain.job_status import JobStatus
from infra.logs import JobEnd, LogChunk, LogStore
from infra.services import Services

KEEPALIVE_S = 15.0
"""A None item this often while a followed job is silent, so a stream can keep proxies open."""


class Expired:
    """A follow reached `log_follow_max_s`: it ends, and the client reconnects."""


EXPIRED = Expired()

Item = LogChunk | JobStatus | Expired | None
"""What a followed log yields: a chunk, the final status or EXPIRED last, None for a silent
interval."""


async def followed(
    services: Services, logs: LogStore, job_id: UUID, after: int, limit_s: float
) -> AsyncIterator[Item]:
    deadline = asyncio.get_running_loop().time() + limit_s
    async with JobEnd(services.nc, job_id, services.runner.writer_key) as end:
        for chunk in await logs.read(str(job_id), after):
            yield chunk
            after = chunk.seq
        expired = False
        async for item in _with_keepalive(logs.follow(str(job_id), after, end.ended), deadline):
            expired = item is EXPIRED
            yield item
        if not expired:
            assert end.status is not None
            yield end.status


async def _with_keepalive(
    source: AsyncGenerator[LogChunk, None], deadline: float
) -> AsyncIterator[LogChunk | Expired | None]:
    """`source`'s chunks, with a None after each KEEPALIVE_S without one, and EXPIRED last if
    the loop's clock reaches `deadline` first."""
    pending: asyncio.Queue[LogChunk | Exception] = asyncio.Queue(maxsize=1024)

    async def pump() -> None:
        async with contextlib.aclosing(source):
            try:
                async for chunk in source:
                    await pending.put(chunk)
            except Exception as exc:
                await pending.put(exc)
            else:
                await pending.put(StopAsyncIteration())

    task = asyncio.create_task(pump())
    loop = asyncio.get_running_loop()
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                yield EXPIRED
                return
            try:
                item = await asyncio.wait_for(pending.get(), min(KEEPALIVE_S, left))
            except TimeoutError:
                if loop.time() < deadline:
                    yield None
                continue
            if isinstance(item, StopAsyncIteration):
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
