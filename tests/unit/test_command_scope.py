"""A line logged while a command is handled names that command, and only that one: concurrent
commands each keep their own, and a line outside any names none."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from domain.commands.base import CommandContext
from domain.identity import Principal, PrincipalKind
from infra.logging_setup import command_scope, formatter

log = logging.getLogger("tests.command_scope")


@dataclass(frozen=True)
class Sent:
    correlation_id: str
    command_id: str
    actor: str


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(as_json=True))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_concurrent_commands_each_name_their_own(out: io.StringIO) -> None:
    both_inside = asyncio.Barrier(2)

    async def handled(n: int) -> None:
        with command_scope(Sent(f"corr-{n}", f"cmd-{n}", f"agent:{n}")):
            await both_inside.wait()  # each logs while the other's scope is open too
            log.info("handling %d", n, extra={"command_id": "its own"} if n == 2 else None)

    await asyncio.gather(handled(1), handled(2))
    log.info("after")
    found = {line["message"]: line for line in lines(out)}
    one, two, after = found["handling 1"], found["handling 2"], found["after"]
    assert (one["correlation_id"], one["command_id"], one["principal"]) == (
        "corr-1",
        "cmd-1",
        "agent:1",
    )
    assert (two["correlation_id"], two["principal"]) == ("corr-2", "agent:2")
    assert two["command_id"] == "its own"  # a field the call passes as `extra` wins
    assert not {"correlation_id", "command_id", "principal"} & after.keys()


def test_a_line_names_the_id_a_context_made_for_its_command(out: io.StringIO) -> None:
    """A context makes its command id when first asked, and keeps it: the line and the events
    name the same one, and so does the correlation id the caller left out."""
    context = CommandContext(Principal(PrincipalKind.AGENT, "7"), None, None)
    with command_scope(context):
        log.info("handling")
    (line,) = lines(out)
    assert line["command_id"] == context.command_id == context.cause("job.create").command_id
    assert line["command_id"].startswith("agent:7|")
    assert line["correlation_id"] == context.correlation_id == context.command_id
    assert line["principal"] == "agent:7"
    assert CommandContext(context.principal, None, None).command_id != context.command_id
