"""A quantile sketch of durations: bounded memory, a picture of a few hundred bytes.

DDSketch's logarithmic mapping (Masson, Rim and Lee, VLDB 2019): a value x > 0 falls in bucket
ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a), and a bucket answers 2 gamma^i / (gamma + 1),
within a relative error `a` of every value in it. Durations from 1 ms to a year span about 1,000
buckets at a = 1%, whatever the number of jobs; a sorted list of every duration, which this
replaces, grew by a float per job forever and was copied whole into every picture.

Written here rather than taken from the `ddsketch` package: the read models need a JSON form
for their pictures, and that package serialises only through protobuf.
"""

from __future__ import annotations

import math
from typing import Any

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
SMALLEST_S = 1e-3
"""Durations at or below this (a millisecond) share one bucket answering 0."""


class DurationSketch:
    """Count, exact mean and nearest-rank quantiles within RELATIVE_ACCURACY."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.small = 0
        self.total_s = 0.0

    @property
    def count(self) -> int:
        return self.small + sum(self.buckets.values())

    def add(self, seconds: float) -> None:
        self.total_s += seconds
        if seconds <= SMALLEST_S:
            self.small += 1
            return
        index = math.ceil(math.log(seconds) / _LOG_GAMMA)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def mean(self) -> float | None:
        count = self.count
        return self.total_s / count if count else None

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile: the value of rank ceil(q n), as its bucket answers it."""
        count = self.count
        if not count:
            return None
        rank = max(1, math.ceil(q * count))
        if rank <= self.small:
            return 0.0
        seen = self.small
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return 2 * _GAMMA**index / (_GAMMA + 1)
        raise AssertionError("the buckets hold fewer values than their count")

    def dump(self) -> dict[str, Any]:
        return {"buckets": list(self.buckets.items()), "small": self.small, "total_s": self.total_s}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> DurationSketch:
        sketch = cls()
        sketch.buckets = dict(data["buckets"])
        sketch.small, sketch.total_s = data["small"], data["total_s"]
        return sketch
