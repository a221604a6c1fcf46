"""`jetdeck replay` (the read models as of a time or sequence) and `jetdeck rebuild`, over
infra/time_travel. Neither starts a worker or writes an event: replay has no side effects."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from nats.aio.client import Client
from pydantic import TypeAdapter

from cli.common import DEFAULT_DATA_DIR, DataDir, Json, Meter, NatsUrl, emit, out_console, run
from cli.events import parse_time
from cli.link import last_seq
from domain.values import is_sequence_number
from infra.read_models import ReadModels
from infra.time_travel import read_models_at, rebuild, seq_at
from projections.jobs import JobFilter

EVERYTHING = 1_000_000_000
"""A page size no log reaches: replay prints the whole view."""


class View(StrEnum):
    summary = "summary"
    jobs = "jobs"
    deployments = "deployments"
    agents = "agents"
    pools = "pools"
    queue = "queue"


def _views(models: ReadModels, seq: int, now: datetime) -> dict[View, Callable[[], Any]]:
    """Each view as the API's list route answers it."""
    return {
        View.summary: lambda: models.stats.summary(now, models.deployments.live_versions(), seq),
        View.jobs: lambda: models.jobs.page(JobFilter(), EVERYTHING)[0],
        View.deployments: lambda: models.deployments.page(None, None, EVERYTHING, None)[0],
        View.agents: lambda: models.agents.select(None, None, None),
        View.pools: models.pools.listing,
        View.queue: lambda: models.queue.stats(now),
    }


def replay(
    as_of: Annotated[str, typer.Option("--as-of", help="ISO time or a sequence number")],
    view: Annotated[View, typer.Argument()] = View.summary,
    nats_url: NatsUrl = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    json_out: Json = False,
) -> None:
    """Print a read model as it stood at a past point of the log."""
    when = None if is_sequence_number(as_of) else parse_time(as_of)

    async def work(nc: Client) -> tuple[int, Any]:
        seq = int(as_of) if when is None else await seq_at(nc, when)
        with Meter("replaying", seq, quiet=json_out) as meter:
            models = await read_models_at(nc, seq, lambda at: meter.tick(at - meter.count))
        return seq, _views(models, seq, when or datetime.now(UTC))[view]()

    seq, found = run(nats_url, data_dir, work)
    body = orjson.loads(TypeAdapter(Any).dump_json(found))
    if json_out:
        emit({"as_of_seq": seq, "view": view.value, view.value: body})
        return
    out_console().print(f"{view.value} as of sequence {seq}:")
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")


def rebuild_snapshot(
    nats_url: NatsUrl = None, data_dir: DataDir = DEFAULT_DATA_DIR, json_out: Json = False
) -> None:
    """Discard the read-model snapshots and replay the whole log into a fresh one."""

    async def work(nc: Client) -> int:
        with Meter("rebuilding", await last_seq(nc), quiet=json_out) as meter:
            return await rebuild(nc, lambda at: meter.tick(at - meter.count))

    seq = run(nats_url, data_dir, work)
    if json_out:
        emit({"snapshot_seq": seq})
    else:
        out_console().print(f"snapshot rebuilt at sequence {seq}")
