"""`jetdeck import`: an export back into an EMPTY store, the whole file checked first.

Every aggregate's chain is followed from genesis while the file is read, and each line's content
must hash to the hash the line states, so the first bad line is named and nothing is written.
Events are then sealed with the target store's writer key and published in order, each expecting
the sequence before it, so they land on their original sequences with their original subjects,
message ids and content (which holds their time, actor, command and correlation ids). Only the
stream's own timestamps are new.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from nats.aio.client import Client
from nats.js.errors import APIError

from cli.common import DEFAULT_DATA_DIR, DataDir, Json, Meter, NatsUrl, emit, fail, run
from cli.export_format import Line, manifest_of, parse_line
from cli.link import CliError, event_count
from domain.errors import UndecodableEventError
from domain.recorded import GENESIS, chain_hash
from infra.codec import decode, seal
from infra.layout import EVENTS
from infra.settings import Settings
from infra.tokens import event_writer_key


class BadLineError(CliError):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(f"line {number}: {why}; nothing imported", 1)


def read_file(path: Path) -> list[Line]:
    """Every event line, checked: numbering, chains, hashes, and the manifest at the end."""
    raw_lines = path.read_bytes().splitlines(keepends=True)
    if not raw_lines:
        raise BadLineError(1, "the file is empty")
    lines: list[Line] = []
    chains: dict[str, str] = {}
    for number, raw in enumerate(raw_lines[:-1], start=1):
        line = _parse(number, raw)
        _check(number, line, len(lines) + 1, chains)
        lines.append(line)
    _check_manifest(len(raw_lines), raw_lines, len(lines))
    return lines


def _parse(number: int, raw: bytes) -> Line:
    try:
        found: dict[str, Any] = orjson.loads(raw)
        if manifest_of(found) is not None:
            raise BadLineError(number, "a manifest before the end of the file")
        return parse_line(found)
    except orjson.JSONDecodeError as exc:
        raise BadLineError(number, f"not JSON ({exc})") from exc
    except CliError as exc:
        raise BadLineError(number, str(exc)) from exc


def _check(number: int, line: Line, seq: int, chains: dict[str, str]) -> None:
    if line.seq != seq:
        raise BadLineError(
            number, f"sequence {line.seq} where {seq} belongs (a full export from 1)"
        )
    try:
        event = decode(line.seq, line.subject, line.content)
    except UndecodableEventError as exc:
        if line.hash is not None:
            raise BadLineError(number, str(exc)) from exc
        return  # a message that was never a JetDeck event: restored as it was
    digest = chain_hash(line.subject, line.content)
    if digest != line.hash:
        raise BadLineError(number, f"content hashes to {digest}, the line states {line.hash}")
    if line.data is not None and line.data != orjson.loads(line.content)["data"]:
        raise BadLineError(number, "its data differs from its stored content")
    key = f"{event.kind}.{event.aggregate_id}"
    expected = chains.get(key, GENESIS)
    if event.prev != expected:
        raise BadLineError(
            number, f"the chain of {key} breaks: prev {event.prev}, expected {expected}"
        )
    chains[key] = digest


def _check_manifest(number: int, raw_lines: list[bytes], count: int) -> None:
    found = manifest_of(orjson.loads(raw_lines[-1]))
    if found is None:
        raise BadLineError(number, "no manifest at the end: the file is incomplete")
    digest = hashlib.sha256(b"".join(raw_lines[:-1])).hexdigest()
    if found.get("count") != count or found.get("sha256") != digest:
        raise BadLineError(number, "the manifest does not match the lines before it")


async def publish_all(nc: Client, lines: list[Line], meter: Meter) -> None:
    held = await event_count(nc)
    if held:
        raise CliError(f"the store already holds {held} events: import needs an empty one")
    js = nc.jetstream(timeout=10)
    key = await event_writer_key(js, Settings().writer_key)
    for line in lines:
        headers = {"Nats-Expected-Last-Sequence": str(line.seq - 1)}
        if line.msg_id is not None:
            headers["Nats-Msg-Id"] = line.msg_id
        try:
            payload = seal(line.subject, line.content, key) if line.hash else line.content
            await js.publish(line.subject, payload, stream=EVENTS, headers=headers)
        except APIError as exc:
            raise CliError(f"sequence {line.seq} refused: {exc}; the store is now partial") from exc
        meter.tick()


def import_events(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An export file")],
    nats_url: NatsUrl = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    json_out: Json = False,
) -> None:
    """Restore an export into an empty store, refusing a file whose chain breaks."""
    try:
        lines = read_file(file)
    except CliError as exc:
        fail(str(exc), exc.code)

    async def work(nc: Client) -> int:
        with Meter("importing", len(lines), quiet=json_out) as meter:
            await publish_all(nc, lines, meter)
        return meter.count

    count = run(nats_url, data_dir, work)
    if json_out:
        emit({"imported": count, "last_seq": lines[-1].seq if lines else 0})
