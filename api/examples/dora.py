"""An example of the DORA metrics' answer: 12 deployments in 30 days, 2 of them failed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from wire.dora import DoraMetrics

DORA: dict[type[BaseModel], dict[str, Any]] = {
    DoraMetrics: {
        "service": "api-backend",
        "days": 30,
        "window_start": "2026-10-22T14:03:12.480000Z",
        "window_end": "2026-11-21T14:03:12.480000Z",
        "as_of_seq": 2210,
        "deployment_frequency": {"deployments": 12, "per_day": 0.4},
        "lead_time": {"changes": 11, "without_job": 1, "median_s": 7260.0, "p95_s": 86400.0},
        "change_failure_rate": {"deployments": 13, "failed": 2, "rate": 0.1538},
        "time_to_restore": {"failures": 2, "restored": 1, "median_s": 2700.0},
    },
}
