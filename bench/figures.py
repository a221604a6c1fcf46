"""Measuring a benchmark and reporting it: timings, percentiles, CPU, and each figure printed
next to its raw nats-py baseline with the ratio. Nothing here asserts on time."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import psutil


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    """Seconds `work` took."""
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


@dataclass(frozen=True)
class OpenLoop:
    """Latencies in seconds (from each request's scheduled start, so queueing counts), seconds
    from the first start to the last answer, and the failures by message."""

    latencies: list[float]
    seconds: float
    errors: Counter[str]

    @property
    def achieved(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


async def open_loop(rate: float, total: int, send: Callable[[], Awaitable[object]]) -> OpenLoop:
    """Start request i at t0 + i/rate whatever the earlier ones do (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    last_done = 0.0

    async def one(due: float) -> None:
        nonlocal last_done
        try:
            await send()
        except Exception as exc:
            errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
            return
        last_done = loop.time()
        latencies.append(last_done - due)

    t0 = loop.time()
    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return OpenLoop(latencies, max(last_done - t0, 1e-9), errors)


@dataclass(frozen=True)
class CpuMeter:
    """CPU seconds (user + system) of named processes, to say where the time of a run went."""

    pids: dict[str, int]

    def also(self, name: str, pid: int) -> CpuMeter:
        return CpuMeter(self.pids | {name: pid})

    def read(self) -> dict[str, float]:
        return {name: _cpu_s(pid) for name, pid in self.pids.items()}

    def since(self, before: dict[str, float]) -> dict[str, float]:
        return {name: now - before[name] for name, now in self.read().items()}


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass
class Series:
    """The rounds of one side of a benchmark: units per second, and CPU per process."""

    units_per_round: int
    meter: CpuMeter
    rates: list[float] = field(default_factory=list)
    cpu_s: Counter[str] = field(default_factory=Counter)

    async def round(self, work: Awaitable[float]) -> None:
        """`work` does one round's units and gives the seconds it took."""
        before = self.meter.read()
        self.rates.append(self.units_per_round / await work)
        self.cpu_s.update(self.meter.since(before))

    def cpu_per_unit(self) -> str:
        units = len(self.rates) * self.units_per_round
        return ", ".join(f"{name} {s / units * 1e6:.1f} µs" for name, s in self.cpu_s.items())


# --- reporting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One line of the summary: our figure, raw nats-py's, and ours / raw."""

    bench: str
    metric: str
    ours: float
    raw: float
    higher_is_better: bool
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.raw if self.raw else float("nan")


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def print_figure(figure: Figure) -> None:
    better = "higher is better" if figure.higher_is_better else "lower is better"
    target = f", target {figure.target}" if figure.target else ""
    print(
        f"  {figure.metric:<28} ours {fmt(figure.ours):>10}   raw nats-py {fmt(figure.raw):>10}"
        f"   ours/raw {figure.ratio:5.2f}  ({better}{target})",
        flush=True,
    )


def markdown_table(figures: Sequence[Figure]) -> str:
    lines = [
        "| benchmark | metric | JetDeck | raw nats-py | JetDeck / raw | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for f in figures:
        arrow = "↑" if f.higher_is_better else "↓"
        lines.append(
            f"| {f.bench} | {f.metric} {arrow} | {fmt(f.ours)} | {fmt(f.raw)} "
            f"| {f.ratio:.2f} | {f.target} |"
        )
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def runs_text(values: Sequence[float]) -> str:
    return "[" + ", ".join(fmt(v) for v in values) + "]"
