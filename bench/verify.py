"""`infra.verify.verify_log` over a whole stream against a raw replay that only counts.

The stream is filled as for `bench.projection_rebuild` (realistic, sealed, hash-chained events
with the event store's headers), then a checkpointer folds it and signs one checkpoint at the
end. Timed, alternating:

* ours: `verify_log` with the writer key and the public key: gaps, MACs, types and versions,
  chains, order, the Merkle fold and the checkpoint's root;
* raw: an ordered push consumer with a callback that only counts, over the same stream.

Each verification must find nothing.

    python -m bench.verify [--quick]
"""

from __future__ import annotations

import asyncio
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.client import Client
from nats.aio.msg import Msg

from bench.common import connected, nats_server, parse_args, run_main
from bench.figures import CpuMeter, Figure, Series, median, print_figure, runs_text, timed
from bench.projection_rebuild import FULL, QUICK, Size, filled, raw_replay
from infra.layout import CHECKPOINT_SUBJECT
from infra.verify import verify_log, writer_key
from workers.checkpointer import Checkpointer

NAME = "verify"
SIGNER = Ed25519PrivateKey.generate()


async def checkpoint(nc: Client, last: int) -> None:
    """One signed checkpoint of the whole stream: the checkpointer writes it at `last` events."""
    written = asyncio.Event()

    async def on_checkpoint(_: Msg) -> None:
        written.set()

    sub = await nc.subscribe(CHECKPOINT_SUBJECT, cb=on_checkpoint)
    checkpointer = Checkpointer(nc, SIGNER, await writer_key(nc), last, 3600)
    await checkpointer.start()
    try:
        await asyncio.wait_for(written.wait(), 600)
    finally:
        await checkpointer.stop()
        await sub.unsubscribe()


async def verified(url: str, last: int) -> float:
    async with connected(url, "bench-verify") as nc:
        key = await writer_key(nc)

        async def work() -> None:
            report = await verify_log(nc, writer_key=key, public_key=SIGNER.public_key())
            if not report.ok or report.events != last or report.checkpoints != 1:
                raise RuntimeError(f"verify found {report.findings[:3]} over {report.events}")

        return await timed(work)


async def measure(url: str, size: Size) -> tuple[Series, Series]:
    await filled(url, size)
    async with connected(url, "bench-checkpoint") as nc:
        await checkpoint(nc, size.events)
    meter = CpuMeter({"bench process": os.getpid()})
    ours, raw = Series(size.events, meter), Series(size.events, meter)
    for _ in range(size.rounds):
        await raw.round(raw_replay(url, size.events))
        await ours.round(verified(url, size.events))
    return ours, raw


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.events:,} events x {size.rounds} rounds")
    async with nats_server() as server:
        ours, raw = await measure(server.url, size)
    print(f"  rounds: ours {runs_text(ours.rates)}  raw {runs_text(raw.rates)}")
    print(f"  CPU per event: ours {ours.cpu_per_unit()}; raw {raw.cpu_per_unit()}")
    figure = Figure(NAME, "events/s", median(ours.rates), median(raw.rates), True, ">= 0.5")
    print_figure(figure)
    return [figure]


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
