"""One log format for JetDeck, uvicorn and FastStream: a JSON object a line, or structlog's console
rendering when stderr is a terminal. Everything logs through the standard library; structlog
only formats. A line logged while a command is handled carries the command's correlation id,
command id and principal (`command_scope`), and the fields a call passes as `extra`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

FOREIGN = ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access")
"""Loggers that come with handlers and colours of their own: theirs go, ours take over."""


class Sent(Protocol):
    """What a line logged while a command is handled says of it."""

    @property
    def correlation_id(self) -> str: ...

    @property
    def command_id(self) -> str: ...

    @property
    def actor(self) -> str: ...


_COMMAND: ContextVar[Sent | None] = ContextVar("jetdeck_command", default=None)
"""The command being handled in this task (`command_scope`)."""


def _command_fields(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The fields of the command being handled, read only when a line is logged: binding them
    through structlog's context on every command cost more than the rest of a heartbeat's
    logging did, and a command that logs nothing never makes its id."""
    command = _COMMAND.get()
    if command is not None:
        event.setdefault("correlation_id", command.correlation_id)
        event.setdefault("command_id", command.command_id)
        event.setdefault("principal", command.actor)
    return event


def _drop_colour(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """uvicorn passes a coloured copy of its message as `extra`."""
    event.pop("color_message", None)
    return event


PRE_CHAIN: list[Processor] = [
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _command_fields,
    structlog.stdlib.ExtraAdder(),
    _drop_colour,
]


def formatter(as_json: bool) -> logging.Formatter:
    last: list[Processor] = (
        [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(),
        ]
        if as_json
        else [structlog.dev.ConsoleRenderer()]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PRE_CHAIN,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
    )


def configure_logging(
    level: int = logging.INFO, stream: TextIO | None = None, as_json: bool | None = None
) -> None:
    """Once per process, first thing: every record to `stream` (stderr), JSON unless it is a
    terminal."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(not out.isatty() if as_json is None else as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's deprecation notice is a line like any other
    for name in FOREIGN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def broker_logger() -> logging.Logger:
    """For a FastStream broker's `logger=`: left to itself it makes a logger with a coloured
    handler of its own when it starts, after `configure_logging` ran."""
    return logging.getLogger("faststream.access")


@contextmanager
def command_scope(command: Sent) -> Iterator[None]:
    """Lines logged inside name `command` (a context variable: each task has its own)."""
    token = _COMMAND.set(command)
    try:
        yield
    finally:
        _COMMAND.reset(token)
