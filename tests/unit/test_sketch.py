"""The duration sketch: nearest-rank quantiles within its relative accuracy, in bounded size."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from projections.sketch import RELATIVE_ACCURACY, SMALLEST_S, DurationSketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def sketched(values: list[float]) -> DurationSketch:
    sketch = DurationSketch()
    for value in values:
        sketch.add(value)
    return sketch


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99, 1.0])
def test_quantiles_are_within_the_relative_accuracy_of_the_exact_nearest_rank(
    seed: int, q: float
) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3, 1.5) for _ in range(5000)] + [rng.uniform(0.01, 2)] * 50
    answer = sketched(values).quantile(q)
    assert answer == pytest.approx(exact(values, q), rel=RELATIVE_ACCURACY)


def test_count_and_mean_are_exact() -> None:
    values = [0.0, 0.0005, 1.5, 2.5, 90.0]
    sketch = sketched(values)
    assert sketch.count == 5
    assert sketch.mean() == pytest.approx(sum(values) / 5)


def test_an_empty_sketch_answers_none() -> None:
    assert (DurationSketch().quantile(0.95), DurationSketch().mean()) == (None, None)


def test_values_up_to_a_millisecond_answer_zero() -> None:
    sketch = sketched([0.0, SMALLEST_S, 5.0])
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(1.0) == pytest.approx(5.0, rel=RELATIVE_ACCURACY)


def test_size_is_bounded_by_the_range_of_values_not_their_number() -> None:
    rng = random.Random(1)
    sketch = sketched([rng.uniform(1, 3600) for _ in range(100_000)])
    span = math.log(3600) / math.log((1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY))
    assert len(sketch.buckets) <= span + 1
    assert len(orjson.dumps(sketch.dump())) < 8_000


def test_a_restored_sketch_answers_the_same() -> None:
    rng = random.Random(2)
    original = sketched([rng.expovariate(0.1) for _ in range(1000)])
    restored = DurationSketch.restore(orjson.loads(orjson.dumps(original.dump())))
    assert [restored.quantile(q) for q in (0.5, 0.95)] == [
        original.quantile(q) for q in (0.5, 0.95)
    ]
    assert (restored.count, restored.mean()) == (original.count, original.mean())
