"""Health thresholds: classification at each boundary and the policy's own rules."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from domain.health import AgentStatus, HealthPolicy, Metrics, classify, classify_silence

POLICY = HealthPolicy()


def load(cpu: float = 0.0, mem: float = 0.0, disk: float = 0.0) -> Metrics:
    return Metrics(cpu_pct=cpu, mem_pct=mem, disk_pct=disk, running_jobs=0)


def test_policy_defaults_are_the_documented_ones() -> None:
    assert POLICY.model_dump() == {
        "degraded_pct": 85.0,
        "unhealthy_pct": 95.0,
        "heartbeat_interval_s": 10.0,
        "missed_heartbeats_unhealthy": 2,
        "offline_after_intervals": 3,
    }


@pytest.mark.parametrize(
    ("pct", "expected"),
    [
        (0.0, AgentStatus.HEALTHY),
        (84.99, AgentStatus.HEALTHY),
        (85.0, AgentStatus.DEGRADED),
        (94.99, AgentStatus.DEGRADED),
        (95.0, AgentStatus.UNHEALTHY),
        (100.0, AgentStatus.UNHEALTHY),
    ],
)
@pytest.mark.parametrize("resource", ["cpu", "mem", "disk"])
def test_classify_follows_the_most_loaded_resource_when_it_crosses_a_threshold(
    resource: str, pct: float, expected: AgentStatus
) -> None:
    others = {name: 50.0 for name in ("cpu", "mem", "disk") if name != resource}
    assert classify(load(**{resource: pct}, **others), POLICY) is expected


def test_classify_uses_the_policy_thresholds_when_they_are_not_the_defaults() -> None:
    policy = HealthPolicy(degraded_pct=50, unhealthy_pct=60)
    assert classify(load(cpu=49.9), policy) is AgentStatus.HEALTHY
    assert classify(load(cpu=50), policy) is AgentStatus.DEGRADED
    assert classify(load(cpu=60), policy) is AgentStatus.UNHEALTHY


def test_peak_names_the_most_loaded_resource() -> None:
    assert load(cpu=10, mem=70, disk=40).peak() == ("mem", 70.0)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, None),
        (19.99, None),
        (20.0, AgentStatus.UNHEALTHY),
        (29.99, AgentStatus.UNHEALTHY),
        (30.0, AgentStatus.OFFLINE),
        (3600.0, AgentStatus.OFFLINE),
    ],
)
def test_classify_silence_counts_missed_heartbeats_when_default_policy(
    seconds: float, expected: AgentStatus | None
) -> None:
    assert classify_silence(seconds, POLICY) is expected


def test_classify_silence_scales_with_the_heartbeat_interval_when_it_changes() -> None:
    policy = HealthPolicy(
        heartbeat_interval_s=5, missed_heartbeats_unhealthy=3, offline_after_intervals=4
    )
    assert classify_silence(14.9, policy) is None
    assert classify_silence(15, policy) is AgentStatus.UNHEALTHY
    assert classify_silence(20, policy) is AgentStatus.OFFLINE


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"degraded_pct": 95, "unhealthy_pct": 95}, "degraded_pct must be below unhealthy_pct"),
        ({"degraded_pct": 96, "unhealthy_pct": 95}, "degraded_pct must be below unhealthy_pct"),
        ({"missed_heartbeats_unhealthy": 3}, "missed_heartbeats_unhealthy must be below"),
        ({"offline_after_intervals": 2}, "missed_heartbeats_unhealthy must be below"),
        ({"degraded_pct": 0}, "degraded_pct"),
        ({"unhealthy_pct": -1}, "unhealthy_pct"),
        ({"unhealthy_pct": 100.5}, "unhealthy_pct"),
        ({"heartbeat_interval_s": 0}, "heartbeat_interval_s"),
        ({"missed_heartbeats_unhealthy": 0}, "missed_heartbeats_unhealthy"),
        ({"offline_after_intervals": -3}, "offline_after_intervals"),
        ({"grace_s": 1}, "grace_s"),
    ],
)
def test_policy_is_refused_when_a_threshold_is_out_of_range_or_order(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        HealthPolicy(**fields)


def test_policy_accepts_the_tightest_valid_order() -> None:
    policy = HealthPolicy(
        degraded_pct=99.9,
        unhealthy_pct=100,
        missed_heartbeats_unhealthy=1,
        offline_after_intervals=2,
    )
    assert (policy.unhealthy_pct, policy.offline_after_intervals) == (100, 2)


@pytest.mark.parametrize("pct", [-0.1, 100.1, float("nan")])
@pytest.mark.parametrize("resource", ["cpu", "mem", "disk"])
def test_metrics_are_refused_when_a_percentage_is_out_of_range(resource: str, pct: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"{resource}_pct"):
        load(**{resource: pct})


def test_metrics_are_refused_when_running_jobs_is_negative() -> None:
    with pytest.raises(pydantic.ValidationError, match="running_jobs"):
        Metrics(cpu_pct=0, mem_pct=0, disk_pct=0, running_jobs=-1)
