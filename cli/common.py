"""What every command shares: the connection options, `--json`, the progress meter on stderr,
and the mapping of failures to exit codes (0 fine, 1 findings, 2 usage or connection)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, NoReturn, TypeVar

import nats
import orjson
import typer
from nats.aio.client import Client
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cli.link import CliError, open_link, resolve
from domain.errors import UnavailableError

NatsUrl = Annotated[
    str | None,
    typer.Option(
        "--nats-url",
        help="NATS server(s); default JETDECK_NATS_URL, else the embedded server of --data-dir.",
    ),
]
DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where `make run` keeps the embedded server's users.")
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON or lines).")]
DEFAULT_DATA_DIR = Path(".jetdeck")
PROGRESS_EVERY = 5000
"""Redrawing the bar on every event cost about 6% of a replay (research: replay.md §6)."""

err = Console(stderr=True)
PIPE_WIDTH = 240
"""Tables written to a file or a pipe are this wide, not 80 columns of elided ids."""


def out_console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


T = TypeVar("T")


def run(nats_url: str | None, data_dir: Path, work: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run `work`, close; failures become one line on stderr and exit code 2."""

    async def connected() -> T:
        nc = await open_link(resolve(nats_url, data_dir))
        try:
            return await work(nc)
        finally:
            await nc.close()

    try:
        return asyncio.run(connected())
    except CliError as exc:
        fail(str(exc), exc.code)
    except (nats.errors.Error, TimeoutError, UnavailableError) as exc:
        fail(f"NATS failed: {exc or type(exc).__name__}")
    except ValidationError as exc:
        fail(f"bad JETDECK_* setting: {exc}")


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def emit(record: Any) -> None:
    """One JSON document (or JSON line) on stdout."""
    sys.stdout.buffer.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))


class EventRate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s")


class Meter:
    """A progress bar on stderr (bar, M/N, events/s, ETA), redrawn every 5,000 events, with a
    summary line at the end; silent under `--json`."""

    def __init__(self, label: str, total: int | None, quiet: bool) -> None:
        self.quiet = quiet
        self.count = 0
        self._shown = 0
        self._started = time.perf_counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        self._progress = Progress(
            *columns, EventRate(), TimeRemainingColumn(), console=err, disable=quiet
        )
        self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> Meter:
        self._progress.start()
        return self

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.count - self._shown >= PROGRESS_EVERY:
            self._progress.update(self._task, completed=self.count)
            self._shown = self.count

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.update(self._task, completed=self.count)
        self._progress.stop()
        if not self.quiet and kind is None:
            elapsed = time.perf_counter() - self._started
            rate = self.count / elapsed if elapsed > 0 else 0.0
            err.print(f"{self.count:,} events in {elapsed:.2f} s ({rate:,.0f} events/s)")
