"""The DORA metrics on hand-built histories, each answer worked out by hand in the test."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from projections import dora as figures
from projections.dora import History, Release, dora, median, percentile
from wire import dora as wire
from wire.dora import DoraMetrics, DoraWindow

END = datetime(2025, 3, 31, 12, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def before(delta: timedelta) -> datetime:
    return END - delta


def week_of_api() -> History:
    """Three deployments of `api` in the last 7 days, one rolled back, one of a SHA no job
    carried; one more 8 days ago; and `web`, whose production failed 5 days ago, never fixed."""
    first_seen = {
        "aaa1111": before(3 * DAY + 2 * HOUR),  # lead time 2 h
        "bbb2222": before(2 * DAY + 4 * HOUR),  # lead time 4 h
        "ddd4444": before(9 * DAY),  # lead time 1 day, outside the week
        "eee5555": before(6 * DAY),
    }
    return History(
        first_seen,
        [
            Release("api", "ddd4444", live_at=before(8 * DAY)),
            Release("api", "aaa1111", live_at=before(3 * DAY)),
            Release(
                "api", "bbb2222", live_at=before(2 * DAY), rolled_back_at=before(2 * DAY - HOUR / 2)
            ),
            Release("api", "ccc3333", live_at=before(DAY)),  # no job: restores bbb after 23.5 h
            Release("web", "eee5555", failed_at=before(5 * DAY)),
        ],
    )


def test_one_service_over_a_week() -> None:
    got = dora(week_of_api(), END, 7, "api")
    assert (got.window_start, got.window_end) == (END - 7 * DAY, END)
    assert got.deployment_frequency == figures.DeploymentFrequency(3, 3 / 7)
    lead = got.lead_time
    assert (lead.changes, lead.without_job) == (2, 1)
    assert lead.median_s == (7200 + 14400) / 2
    assert lead.p95_s == 14400  # nearest rank of 2: the 2nd
    assert got.change_failure_rate == figures.ChangeFailureRate(3, 1, 1 / 3)
    restore = 23.5 * 3600  # rolled back at -2 d + 30 min, ccc live at -1 d
    assert got.time_to_restore == figures.TimeToRestore(1, 1, restore)


def test_a_longer_window_takes_the_older_deployment_in() -> None:
    got = dora(week_of_api(), END, 30, "api")
    assert got.deployment_frequency == figures.DeploymentFrequency(4, 4 / 30)
    assert (got.lead_time.changes, got.lead_time.median_s, got.lead_time.p95_s) == (
        3,
        14400,
        86400,  # nearest rank of 3: ceil(2.85) = the 3rd
    )
    assert got.change_failure_rate.rate == 1 / 4


def test_all_services_count_a_failure_never_restored() -> None:
    got = dora(week_of_api(), END, 7)
    assert got.deployment_frequency.deployments == 3  # web never went live
    assert got.change_failure_rate == figures.ChangeFailureRate(4, 2, 0.5)
    assert got.time_to_restore == figures.TimeToRestore(2, 1, 23.5 * 3600)
    web = dora(week_of_api(), END, 7, "web")
    assert web.time_to_restore == figures.TimeToRestore(1, 0, None)
    assert web.change_failure_rate.rate == 1.0


@pytest.mark.parametrize("service", [None, "nothing-deployed"])
def test_no_deployments_give_null_figures_not_errors(service: str | None) -> None:
    history = History({"aaa1111": before(DAY)}, [])
    got = dora(history, END, 7, service)
    assert got.deployment_frequency == figures.DeploymentFrequency(0, 0.0)
    assert got.lead_time == figures.LeadTime(0, 0, None, None)
    assert got.change_failure_rate == figures.ChangeFailureRate(0, 0, None)
    assert got.time_to_restore == figures.TimeToRestore(0, 0, None)


def test_a_sha_deployed_without_any_job_has_no_lead_time() -> None:
    history = History({}, [Release("api", "ccc3333", live_at=before(HOUR))])
    lead = dora(history, END, 7).lead_time
    assert lead == figures.LeadTime(changes=0, without_job=1, median_s=None, p95_s=None)


def test_a_job_seen_only_after_the_sha_went_live_gives_no_lead_time() -> None:
    history = History({"aaa1111": before(HOUR)}, [Release("api", "aaa1111", live_at=before(DAY))])
    assert dora(history, END, 7).lead_time.without_job == 1


def test_a_sha_going_live_again_is_no_new_change_but_another_deployment() -> None:
    history = History(
        {"aaa1111": before(3 * DAY)},
        [
            Release("api", "aaa1111", live_at=before(2 * DAY)),
            Release("api", "aaa1111", live_at=before(DAY)),
            Release("web", "aaa1111", live_at=before(DAY)),  # another service: its own change
        ],
    )
    got = dora(history, END, 7)
    assert got.deployment_frequency.deployments == 3
    assert got.lead_time.changes == 2
    lead = got.lead_time
    assert (lead.median_s, lead.p95_s) == (1.5 * 86400, 2 * 86400)  # api: 1 day, web: 2 days


def test_production_in_progress_is_not_judged_and_a_rollback_mid_stage_is_a_failure() -> None:
    history = History(
        {},
        [
            Release("api", "aaa1111"),  # entered production, no verdict yet
            Release("api", "bbb2222", rolled_back_at=before(DAY)),
        ],
    )
    got = dora(history, END, 7)
    assert got.change_failure_rate == figures.ChangeFailureRate(1, 1, 1.0)
    assert got.time_to_restore == figures.TimeToRestore(1, 0, None)


def test_a_failed_stage_then_rolled_back_counts_once_from_the_failure() -> None:
    failed, fixed = before(3 * HOUR), before(HOUR)
    history = History(
        {},
        [
            Release("api", "aaa1111", failed_at=failed, rolled_back_at=before(2 * HOUR)),
            Release("api", "bbb2222", live_at=fixed),
        ],
    )
    got = dora(history, END, 7)
    assert got.change_failure_rate == figures.ChangeFailureRate(2, 1, 0.5)
    assert got.time_to_restore.median_s == 2 * 3600


def test_two_failures_fixed_by_one_deployment_are_two_samples() -> None:
    history = History(
        {},
        [
            Release("api", "aaa1111", failed_at=before(4 * HOUR)),
            Release("api", "bbb2222", failed_at=before(2 * HOUR)),
            Release("api", "ccc3333", live_at=before(HOUR)),
        ],
    )
    restore = dora(history, END, 7).time_to_restore
    assert restore == figures.TimeToRestore(2, 2, (3 + 1) / 2 * 3600)


def test_the_window_excludes_its_start() -> None:
    history = History({}, [Release("api", "aaa1111", live_at=END - 7 * DAY)])
    assert dora(history, END, 7).deployment_frequency.deployments == 0
    assert dora(history, END + timedelta(microseconds=-1), 7).deployment_frequency.deployments


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [
        ([], None, None),
        ([5.0], 5.0, 5.0),
        ([3.0, 1.0], 2.0, 3.0),
        ([float(n) for n in range(20, 0, -1)], 10.5, 19.0),  # rank ceil(19.0) = 19
        ([float(n) for n in range(1, 22)], 11.0, 20.0),  # rank ceil(19.95) = 20
    ],
)
def test_median_and_nearest_rank_p95(
    values: list[float], p50: float | None, p95: float | None
) -> None:
    assert (median(values), percentile(values, 95)) == (p50, p95)


PARTS: dict[str, tuple[type[Any], type[BaseModel]]] = {
    "deployment_frequency": (figures.DeploymentFrequency, wire.DeploymentFrequency),
    "lead_time": (figures.LeadTime, wire.LeadTime),
    "change_failure_rate": (figures.ChangeFailureRate, wire.ChangeFailureRate),
    "time_to_restore": (figures.TimeToRestore, wire.TimeToRestore),
}


def test_the_answer_declares_and_defines_every_figure_the_computation_gives() -> None:
    computed = {f.name for f in fields(figures.DoraFigures)}
    assert set(DoraMetrics.model_fields) == computed | {"service", "days", "as_of_seq"}
    assert set(PARTS) == computed - {"window_start", "window_end"}
    for name, (part, declared) in PARTS.items():
        assert DoraMetrics.model_fields[name].annotation is declared
        assert set(declared.model_fields) == {f.name for f in fields(part)}, name
        assert all(info.description for info in declared.model_fields.values()), name


def test_the_answer_carries_the_figures() -> None:
    got = dora(week_of_api(), END, 7, "api")
    answer = DoraMetrics.of(got, "api", DoraWindow.WEEK, 42)
    assert answer.lead_time.median_s == got.lead_time.median_s
    assert answer.model_dump()["time_to_restore"] == {
        "failures": 1,
        "restored": 1,
        "median_s": 23.5 * 3600,
    }
    assert (answer.days, answer.as_of_seq, answer.window_end) == (7, 42, END)
