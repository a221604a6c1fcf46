"""The history the DORA metrics read, gathered from events that real domain commands recorded:
what it keeps, the figures it gives, and its pictures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import orjson

from domain.deployment import Deployment, Environment, Outcome
from domain.job import Job
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.past_models import PastModels
from infra.read_models import DASHBOARD_ONLY, ReadModels
from projections.dora import ChangeFailureRate, DeploymentFrequency, LeadTime, TimeToRestore, dora
from projections.dora_history import DoraHistory
from tests.conftest import Recorder

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
END = T0 + timedelta(days=2)
STAGING, PRODUCTION = Environment.STAGING, Environment.PRODUCTION


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def job(rec: Recorder, sha: str, hours: float) -> None:
    rec.record(Job.create(uuid4(), "test", GitContext(commit_sha=sha), {}), at(hours))


def deployment(rec: Recorder, service: str, sha: str, hours: float) -> Deployment:
    created = Deployment.create(uuid4(), service, f"v-{sha}", GitContext(commit_sha=sha))
    rec.record(created, at(hours))
    return created


def stage(rec: Recorder, d: Deployment, env: Environment, hours: float, ok: bool = True) -> None:
    d.advance(env, Outcome.SUCCEEDED if ok else Outcome.FAILED, reason="" if ok else "smoke")
    rec.record(d, at(hours))


def go_live(rec: Recorder, d: Deployment, hours: float, replaces: Deployment | None) -> None:
    stage(rec, d, STAGING, hours - 0.5)
    stage(rec, d, PRODUCTION, hours)
    if replaces is not None:
        replaces.supersede(d.id)
        rec.record(replaces, at(hours))


def two_days() -> tuple[Recorder, list[Deployment]]:
    """d1 live at 2 h (its SHA's first job at 0 h, spelt in capitals), d2 live at 6 h (job at
    2 h) and rolled back at 6.5 h, d3 failed in production at 7 h, d4 failed in staging, d5
    still pending; then d6, of a SHA no job carried, live at 30 h."""
    rec = Recorder()
    job(rec, "AAA1111", 0)
    job(rec, "aaa1111", 1)
    job(rec, "bbb2222", 2)
    d1, d2 = deployment(rec, "api", "aaa1111", 1), deployment(rec, "api", "bbb2222", 3)
    d3, d4 = deployment(rec, "api", "ccc3333", 4), deployment(rec, "api", "fff6666", 4)
    d5 = deployment(rec, "web", "aaa1111", 5)
    go_live(rec, d1, 2, None)
    go_live(rec, d2, 6, d1)
    d2.roll_back("errors", d1)
    d1.restore(d2.id)
    rec.record(d2, at(6.5))
    rec.record(d1, at(6.5))
    stage(rec, d3, STAGING, 6.8)
    stage(rec, d3, PRODUCTION, 7, ok=False)
    stage(rec, d4, STAGING, 7, ok=False)
    d6 = deployment(rec, "api", "eee5555", 29)
    go_live(rec, d6, 30, d1)
    return rec, [d1, d2, d3, d4, d5, d6]


def fed(model: DoraHistory, log: list[RecordedEvent]) -> DoraHistory:
    for recorded in log:
        model.apply(recorded)
    return model


def test_it_keeps_first_sightings_and_production_deployments_only() -> None:
    rec, (d1, d2, d3, _, d5, d6) = two_days()
    history = fed(DoraHistory(), rec.log)
    assert history.first_seen == {"aaa1111": at(0), "bbb2222": at(2)}
    assert list(history.releases) == [str(d.id) for d in (d1, d2, d3, d6)]
    assert history.waiting == {str(d5.id): ("web", "aaa1111")}  # d4 ended in staging
    rolled_back = history.releases[str(d2.id)]
    assert (rolled_back.live_at, rolled_back.rolled_back_at) == (at(6), at(6.5))
    assert history.releases[str(d3.id)].failed_at == at(7)


def test_the_figures_of_the_gathered_history() -> None:
    got = dora(fed(DoraHistory(), two_days()[0].log).history(), END, 7, "api")
    assert got.deployment_frequency == DeploymentFrequency(3, 3 / 7)
    # d1: 2 h - 0 h; d2: 6 h - 2 h; d6: no job
    assert got.lead_time == LeadTime(2, 1, 3 * 3600.0, 4 * 3600.0)
    assert got.change_failure_rate == ChangeFailureRate(4, 2, 0.5)  # d2 rolled back, d3 failed
    # d6 at 30 h restores d2 (23.5 h) and d3 (23 h)
    assert got.time_to_restore == TimeToRestore(2, 2, 23.25 * 3600)


def picture(model: DoraHistory) -> object:
    """What a snapshot stores: through JSON and back."""
    return orjson.loads(orjson.dumps(model.dump()))


def test_a_restored_history_equals_the_original_and_stays_equal() -> None:
    log = two_days()[0].log
    cut = next(i for i, r in enumerate(log) if r.at >= at(6.5))
    original = fed(DoraHistory(), log[:cut])
    restored = DoraHistory()
    restored.restore(picture(original))
    assert restored.dump() == original.dump()
    fed(original, log[cut:])
    fed(restored, log[cut:])
    assert restored.dump() == original.dump()
    assert dora(restored.history(), END, 7) == dora(original.history(), END, 7)


def test_only_the_dashboard_holds_it_and_a_past_state_restores_it() -> None:
    assert DoraHistory.name in DASHBOARD_ONLY
    assert DoraHistory.name not in {m.name for m in ReadModels().fed(dashboard=False)}
    assert DoraHistory.name in {m.name for m in ReadModels().all()}
    log = two_days()[0].log
    past = PastModels(None, log)
    assert past.dora.dump() == fed(DoraHistory(), log).dump()
