"""The ring of each agent's last heartbeats: oldest first, the newest `size` kept, per agent, and
an agent forgotten whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.recent_beats import SAMPLES, BeatRing, Sample

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def sample(n: int) -> Sample:
    return Sample(T0 + timedelta(seconds=n), float(n), 50.0, 20.0)


def test_samples_come_oldest_first_and_only_the_newest_size_stay() -> None:
    ring = BeatRing(size=3)
    for n in range(5):
        ring.add("a", sample(n))
    assert ring.of("a") == [sample(2), sample(3), sample(4)]


def test_agents_are_kept_apart_and_one_forgotten_leaves_the_others() -> None:
    ring = BeatRing()
    ring.add("a", sample(1))
    ring.add("b", sample(2))
    ring.forget("a")
    ring.forget("never-heard")
    assert (ring.of("a"), ring.of("b")) == ([], [sample(2)])
    ring.add("a", sample(3))  # beating again after it went offline: a fresh start
    assert ring.of("a") == [sample(3)]


def test_the_default_size_is_a_sparkline_s_worth() -> None:
    ring = BeatRing()
    for n in range(SAMPLES + 5):
        ring.add("a", sample(n))
    assert [s.cpu_pct for s in ring.of("a")] == [float(n) for n in range(5, SAMPLES + 5)]
