"""`jetdeck audit pubkey` and `jetdeck audit verify`, over infra/verify (the verifier library)."""

from __future__ import annotations

import binascii
from dataclasses import asdict
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.client import Client
from rich.table import Column, Table

from cli.common import DEFAULT_DATA_DIR, DataDir, Json, Meter, NatsUrl, emit, out_console, run
from cli.link import CliError, last_seq
from infra.checkpoints import parse_public_key, public_key_text
from infra.settings import Settings
from infra.verify import VerifyReport, checkpoint_public_key, verify_log, writer_key


def pubkey(
    nats_url: NatsUrl = None, data_dir: DataDir = DEFAULT_DATA_DIR, json_out: Json = False
) -> None:
    """The checkpoint signer's public key: this machine's, else the newest checkpoint's."""

    async def work(nc: Client) -> str:
        key = await checkpoint_public_key(nc, data_dir)
        if key is None:
            raise CliError("no signing key in the data directory and no checkpoint yet", 1)
        return public_key_text(key)

    text = run(nats_url, data_dir, work)
    if json_out:
        emit({"public_key": text})
    else:
        print(text)


def verify(
    from_seq: Annotated[int, typer.Option("--from-seq", min=1)] = 1,
    to_seq: Annotated[int | None, typer.Option("--to-seq", min=1)] = None,
    aggregate: Annotated[str | None, typer.Option(help="KIND/ID: that aggregate alone")] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="ed25519:<base64> from `jetdeck audit pubkey`, kept apart from the log; "
            "default this machine's key, else the newest checkpoint's (which proves little)",
        ),
    ] = None,
    nats_url: NatsUrl = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    json_out: Json = False,
) -> None:
    """Chains, gaps, MACs and signed checkpoints of EVENTS; exit 1 on any finding."""
    if aggregate is not None and "/" not in aggregate:
        raise typer.BadParameter("KIND/ID", param_hint="--aggregate")
    trusted = _public_key(public_key) if public_key else None

    async def work(nc: Client) -> VerifyReport:
        configured = Settings().writer_key
        key = configured.encode() if configured else await writer_key(nc)
        public = trusted or await checkpoint_public_key(nc, data_dir)
        end = to_seq or await last_seq(nc)
        with Meter("verifying", max(end - from_seq + 1, 0), quiet=json_out) as meter:
            return await verify_log(
                nc,
                writer_key=key,
                public_key=public,
                from_seq=from_seq,
                to_seq=to_seq,
                aggregate=None if aggregate is None else aggregate.replace("/", ".", 1),
                progress=lambda seen: meter.tick(seen - meter.count),
            )

    report = run(nats_url, data_dir, work)
    show(report, json_out)
    if not report.ok:
        raise typer.Exit(1)


def _public_key(text: str) -> Ed25519PublicKey:
    try:
        return parse_public_key(text)
    except (ValueError, binascii.Error) as exc:
        message = f"not an Ed25519 public key: {exc}"
        raise typer.BadParameter(message, param_hint="--public-key") from None


def show(report: VerifyReport, json_out: bool) -> None:
    if json_out:
        facts: dict[str, Any] = asdict(report)
        emit(facts | {"ok": report.ok})
        return
    console = out_console()
    console.print(
        f"{report.events} events ({report.first_seq}..{report.last_seq}), "
        f"{report.checkpoints} signed checkpoints compared: "
        + ("[green]OK[/green]" if report.ok else f"[red]{len(report.findings)} findings[/red]")
    )
    if report.findings:
        table = Table(*(Column(c, overflow="fold") for c in ("kind", "seq", "subject", "detail")))
        for f in report.findings:
            table.add_row(f.kind, str(f.seq or ""), f.subject or "", f.detail)
        console.print(table)
