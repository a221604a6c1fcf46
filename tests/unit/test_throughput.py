"""Jobs finished per hour, from events that real domain commands recorded: the buckets, the
24-hour window's edges, the bound on what is kept, and its pictures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import orjson

from domain.job import Job
from domain.job_status import JobStatus
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.past_models import PastModels
from infra.read_models import DASHBOARD_ONLY, ReadModels
from projections.throughput import KEEP, HourCount, HourlyFinishes
from tests.conftest import Recorder

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def finished(rec: Recorder, hours: float, status: JobStatus = JobStatus.SUCCESS) -> None:
    """A job created, started and completed with `status`, its completion at `hours`."""
    job = Job.create(uuid4(), "build", GitContext(commit_sha="abc1234"), {})
    job.start("agent-1")
    rec.record(job, at(hours - 0.01))
    job.complete(status, exit_code=0 if status is JobStatus.SUCCESS else 1)
    rec.record(job, at(hours))


def fed(model: HourlyFinishes, log: Iterable[RecordedEvent]) -> HourlyFinishes:
    for recorded in log:
        model.apply(recorded)
    return model


def counts(model: HourlyFinishes, end: datetime) -> dict[datetime, tuple[int, int]]:
    """Only the hours that hold a finish, for short assertions; the zeros are tested apart."""
    return {h.start: (h.success, h.other) for h in model.last_day(end) if h.total}


def test_finishes_are_counted_in_their_hour_by_outcome() -> None:
    rec = Recorder()
    finished(rec, 0.0)  # 12:00:00 belongs to 12:00-13:00
    finished(rec, 0.5)
    finished(rec, 0.99, JobStatus.FAILED)
    finished(rec, 1.0, JobStatus.TIMEOUT)
    finished(rec, 1.2, JobStatus.CANCELLED)
    finished(rec, 3.5, JobStatus.ERROR)
    model = fed(HourlyFinishes(), rec.log)
    assert counts(model, at(3.9)) == {T0: (2, 1), at(1): (0, 2), at(3): (0, 1)}


def test_finishes_out_of_time_order_land_in_their_own_hours() -> None:
    """Most finishes land in the hour the last one did, which the model goes to directly; a late
    report in between must still reach its own hour, and the next ones theirs."""
    stamps = [0.1, 0.2, 1.5, 0.3, 1.6, 0.4, 2.5, 1.7, 1.8, 2.6]
    rec = Recorder()
    for hours in stamps:
        finished(rec, hours)
    model = fed(HourlyFinishes(), rec.log)
    expected = {at(h): sum(1 for s in stamps if int(s) == h) for h in range(3)}
    assert counts(model, at(2.9)) == {hour: (n, 0) for hour, n in expected.items()}


def test_only_a_completion_finishes_a_job() -> None:
    rec = Recorder()
    job = Job.create(uuid4(), "build", GitContext(commit_sha="abc1234"), {})
    job.start("agent-1")
    rec.record(job, at(0.2))
    model = fed(HourlyFinishes(), rec.log)
    assert model.hours == {}
    assert [h.total for h in model.last_day(at(0.5))] == [0] * 24


def test_the_window_is_the_24_hours_up_to_the_one_holding_its_end_with_zeros() -> None:
    rec = Recorder()
    finished(rec, -12.99)  # in the oldest hour of a window that ends at 10.7 h
    finished(rec, -13.01)  # in the hour before it: outside
    finished(rec, 10.2)
    model = fed(HourlyFinishes(), rec.log)
    day = model.last_day(at(10.7))
    assert [h.start for h in day] == [at(-13) + i * HOUR for i in range(24)]
    assert day[0] == HourCount(at(-13), 1, 0)
    assert day[-1] == HourCount(at(10), 1, 0)
    assert [h.total for h in day] == [1] + [0] * 22 + [1]


def test_a_read_long_after_the_newest_finish_shows_24_empty_hours() -> None:
    rec = Recorder()
    finished(rec, 0.5)
    model = fed(HourlyFinishes(), rec.log)
    assert [h.total for h in model.last_day(at(24.2))] == [0] * 24
    assert model.last_day(at(24.2))[-1].start == at(24)


def test_a_finish_stamped_after_the_end_moves_the_window_up_to_it() -> None:
    rec = Recorder()
    finished(rec, 1.01)
    model = fed(HourlyFinishes(), rec.log)
    assert model.last_day(at(0.999))[-1] == HourCount(at(1), 1, 0)


def test_only_the_hours_near_the_newest_finish_are_kept() -> None:
    rec = Recorder()
    for hours in range(0, 24 * 5, 3):
        finished(rec, hours + 0.5)
    finished(rec, 10.5)  # a late report, from before the kept hours
    model = fed(HourlyFinishes(), rec.log)
    newest = at(24 * 5 - 3)
    assert min(model.hours) >= newest - KEEP
    assert len(model.hours) == KEEP // (3 * HOUR) + 1
    assert sum(h.total for h in model.last_day(newest)) == 8  # every third hour of the day


def picture(model: HourlyFinishes) -> object:
    """What a snapshot stores: through JSON and back."""
    return orjson.loads(orjson.dumps(model.dump()))


def test_a_restored_model_equals_the_original_and_stays_equal() -> None:
    rec = Recorder()
    for n, hours in enumerate([0.2, 0.4, 5.5, 30.1, 49.0, 60.0, 61.5]):
        finished(rec, hours, JobStatus.FAILED if n % 3 else JobStatus.SUCCESS)
    cut = next(i for i, r in enumerate(rec.log) if r.at >= at(40))
    original = fed(HourlyFinishes(), rec.log[:cut])
    restored = HourlyFinishes()
    restored.restore(picture(original))
    assert restored.dump() == original.dump()
    fed(original, rec.log[cut:])
    fed(restored, rec.log[cut:])
    assert restored.dump() == original.dump()
    assert restored.last_day(at(62)) == original.last_day(at(62))


def test_only_the_dashboard_holds_it_and_a_past_state_restores_it() -> None:
    assert HourlyFinishes.name in DASHBOARD_ONLY
    assert HourlyFinishes.name not in {m.name for m in ReadModels().fed(dashboard=False)}
    rec = Recorder()
    finished(rec, 0.5)
    finished(rec, 2.5, JobStatus.FAILED)
    past = PastModels(None, rec.log)
    assert past.throughput.dump() == fed(HourlyFinishes(), rec.log).dump()
