"""Job logs: the lease holder appends output, the dashboard reads or follows it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from api.auth import PROTECTED, Reading
from api.commands import AgentContext
from api.deps import ServicesDep
from api.schemas import Cursor, Limit
from domain.commands.leases import AppendLogs, Output
from domain.errors import ExpiredError
from infra.dispatch import handle
from infra.log_follow import Expired, Item, followed
from infra.logs import LogChunk, LogStore
from wire.common import Page
from wire.logs import LogLine, LogWrite, LogWritten

router = APIRouter(tags=["logs"], responses=PROTECTED)


async def get_logs(services: ServicesDep) -> LogStore:
    return services.logs


Logs = Annotated[LogStore, Depends(get_logs)]


@router.post("/api/queue/jobs/{job_id}/logs")
async def append_logs(
    job_id: UUID, body: LogWrite, services: ServicesDep, context: AgentContext
) -> LogWritten:
    """Append output to the job's log, in the order given. Only the attempt holding the lease may
    write: 401 for a token the API did not sign, 403 for a token of another job or agent, 409 once
    the attempt lost its lease."""
    chunks = tuple(Output(c.stream, c.text) for c in body.chunks)
    command = AppendLogs(job_id, body.claim_token, chunks, body.offset)
    seqs = await handle(services, command, context)
    return LogWritten(job_id=job_id, first_seq=seqs[0], last_seq=seqs[-1])


@router.get(
    "/api/dashboard/jobs/{job_id}/logs",
    dependencies=[Reading],
    response_model=Page[LogLine],
    responses={
        200: {
            "content": {"text/plain": {}, "text/event-stream": {}},
            "description": "A page of chunks; plain text with `format=text`; SSE with "
            "`follow=true`.",
        },
        410: {
            "description": "The job ended longer ago than logs are kept "
            "(`JETDECK_LOG_RETENTION_DAYS`), and its log is gone (`logs_expired`)."
        },
    },
)
async def read_logs(
    job_id: UUID,
    services: ServicesDep,
    logs: Logs,
    follow: bool = False,
    fmt: Annotated[Literal["json", "text"], Query(alias="format")] = "json",
    limit: Limit = 50,
    cursor: Cursor = None,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> Page[LogLine] | Response:
    """The job's log in order: a page of chunks `{seq, stream, text, time, attempt}` (`cursor`
    is a chunk's sequence: the chunks after it), or with `format=text` every text after `cursor`
    joined (the reference agent sends whole lines with their newline).

    `follow=true` streams: the stored chunks, then new ones as they arrive, until the job reaches
    success, failed, timeout, cancelled, error or dead_lettered, or the client leaves, or it has
    lasted `JETDECK_LOG_FOLLOW_MAX_S` (one hour by default).

    * JSON format: Server-Sent Events (`text/event-stream`). Each chunk is an `event: chunk` whose
      `id` is its sequence and whose `data` is the chunk's JSON; the stream ends with
      `event: end`, `data: {"status": "<final status>"}`. A comment line is sent every 15 s of
      silence. A reconnecting EventSource sends `Last-Event-ID` and resumes after that chunk.
      A stream that reaches its time limit ends with `event: timeout` (`data: {}`): reconnect.
    * Text format: the texts as they arrive (`text/plain`, chunked), nothing else.
    """
    await services.queue.load(job_id)  # 404 for an unknown job
    start = max(cursor or 0, last_event_id or 0)
    if start == 0:
        await _refuse_expired(services, logs, job_id)
    if follow:
        render: Renderer = _sse if fmt == "json" else _plain
        media = "text/event-stream" if fmt == "json" else "text/plain; charset=utf-8"
        limit_s = services.settings.log_follow_max_s
        stream = render(followed(services, logs, job_id, start, limit_s))
        return StreamingResponse(stream, media_type=media, headers={"Cache-Control": "no-cache"})
    chunks = await logs.read(str(job_id), start)
    if fmt == "text":
        return PlainTextResponse("".join(c.text for c in chunks))
    page = chunks[:limit]
    more = len(chunks) > limit
    return Page(items=[_line(c) for c in page], next_cursor=page[-1].seq if more else None)


async def _refuse_expired(services: ServicesDep, logs: LogStore, job_id: UUID) -> None:
    """410 for a job that ended longer ago than LOGS keeps a chunk and has none left: whatever
    it wrote is gone. Only such a job costs a look at LOGS."""
    job = services.views.jobs.get(str(job_id))
    days = services.settings.log_retention_days
    if job is None or job.finished_at is None:
        return
    if job.finished_at + timedelta(days=days) < datetime.now(UTC) and not await logs.last_seq(
        str(job_id)
    ):
        raise ExpiredError(
            f"job {job_id} ended at {job.finished_at.isoformat()}; its log is kept {days:g} days "
            "(JETDECK_LOG_RETENTION_DAYS) and is gone"
        )


def _line(chunk: LogChunk) -> LogLine:
    return LogLine(
        seq=chunk.seq, stream=chunk.stream, text=chunk.text, time=chunk.time, attempt=chunk.attempt
    )


Renderer = Callable[[AsyncIterator[Item]], AsyncIterator[bytes]]


async def _sse(items: AsyncIterator[Item]) -> AsyncIterator[bytes]:
    async for item in items:
        if item is None:
            yield b": keepalive\n\n"
        elif isinstance(item, LogChunk):
            data = orjson.dumps(_line(item).model_dump(mode="json"))
            yield b"id: %d\nevent: chunk\ndata: %s\n\n" % (item.seq, data)
        elif isinstance(item, Expired):
            yield b"event: timeout\ndata: {}\n\n"
        else:
            yield b"event: end\ndata: %s\n\n" % orjson.dumps({"status": item})


async def _plain(items: AsyncIterator[Item]) -> AsyncIterator[bytes]:
    async for item in items:
        if isinstance(item, LogChunk):
            yield item.text.encode()
