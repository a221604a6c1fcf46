"""Run every foundation benchmark and print a markdown summary for the README.

python -m bench.all [--quick]
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bench import (
    auth_cost,
    claim_latency,
    claim_remote,
    command_path,
    enqueue,
    heartbeats,
    http_post,
    pages,
    projection_rebuild,
    queue_paced,
    queue_throughput,
    sse_fanout,
    time_travel,
    verify,
)
from bench.common import machine, parse_args, run_main
from bench.figures import Figure, markdown_table

BENCHES: list[Callable[[bool], Awaitable[list[Figure]]]] = [
    command_path.run,
    projection_rebuild.run,
    verify.run,
    time_travel.run,
    http_post.run,
    enqueue.run,
    heartbeats.run,
    queue_throughput.run,
    queue_paced.run,
    claim_latency.run,
    claim_remote.run,
    auth_cost.run,
    pages.run,
    sse_fanout.run,
]


async def run_all(quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    for bench in BENCHES:
        figures.extend(await bench(quick))
        print()
    return figures


def main() -> None:
    quick = parse_args(__doc__ or "bench.all").quick
    print(f"machine: {machine()}\n")
    started = time.perf_counter()
    figures = run_main(run_all(quick))
    print(f"## Benchmarks{' (quick)' if quick else ''}\n")
    print(markdown_table(figures))
    print(
        f"\n{machine()}. Ratio = JetDeck / raw nats-py doing the same work in the same run "
        f"(↑ higher is better, ↓ lower is better); {time.perf_counter() - started:.0f} s in all."
    )


if __name__ == "__main__":
    main()
