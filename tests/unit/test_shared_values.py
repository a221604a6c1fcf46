"""Rows share the equal git contexts and metadata their events each decoded anew."""

from __future__ import annotations

import orjson

from domain.job import Job
from domain.values import GitContext
from projections import shared_values
from projections.deployments import DeploymentBoard
from projections.jobs import JobBoard
from projections.shared_values import SharedValues
from tests.conftest import Recorder
from tests.unit.read_model_log import fed, new_deployment, new_job


def test_jobs_on_one_commit_share_its_git_context_and_equal_metadata() -> None:
    rec = Recorder()
    first, second = new_job(rec, "same"), new_job(rec, "same")
    other = new_job(rec, "other", repo="org/b")
    board = fed(JobBoard(), rec.log)
    one, two, three = (board.jobs[str(job.id)] for job in (first, second, other))
    created_first, created_second = (recorded.event for recorded in rec.log[:2])
    assert isinstance(created_first, Job.Created)
    assert isinstance(created_second, Job.Created)
    assert created_first.git is not created_second.git  # two objects, equal
    assert one.git is two.git
    assert one.metadata is two.metadata
    assert three.git is not one.git
    assert three.git == GitContext(repo="org/b", ref="main", commit_sha="abc123def456")
    assert three.metadata == {"label": "other"}
    assert three.metadata is not one.metadata


def test_jobs_restored_from_a_picture_share_the_git_context_of_later_ones() -> None:
    rec = Recorder()
    first = new_job(rec, "first")
    restored = JobBoard()
    restored.restore(orjson.loads(orjson.dumps(fed(JobBoard(), rec.log).dump())))
    later = new_job(rec, "later")
    rows = fed(restored, rec.log[-1:]).jobs
    assert rows[str(first.id)].git is rows[str(later.id)].git


def test_deployments_of_one_commit_share_its_git_context() -> None:
    rec = Recorder()
    first, second = new_deployment(rec, "api", "1.0"), new_deployment(rec, "web", "2.0")
    board = fed(DeploymentBoard(), rec.log)
    assert board.deployments[str(first.id)].git is board.deployments[str(second.id)].git


def test_deployments_restored_from_a_picture_share_the_git_context_of_later_ones() -> None:
    rec = Recorder()
    first, second = new_deployment(rec, "api", "1.0"), new_deployment(rec, "web", "1.0")
    restored = DeploymentBoard()
    restored.restore(orjson.loads(orjson.dumps(fed(DeploymentBoard(), rec.log).dump())))
    later = new_deployment(rec, "api", "2.0")
    rows = fed(restored, rec.log[-1:]).deployments
    assert rows[str(first.id)].git is rows[str(second.id)].git
    assert rows[str(first.id)].git is rows[str(later.id)].git
    assert rows[str(later.id)].git == GitContext(commit_sha="abc1234")


def test_a_full_table_starts_over() -> None:
    shared = SharedValues()
    kept = shared.git(GitContext(commit_sha="a0000000"))
    assert shared.git(GitContext(commit_sha="a0000000")) is kept
    for n in range(1, shared_values.LIMIT + 1):
        shared.git(GitContext(commit_sha=f"{n:08x}"))
    again = GitContext(commit_sha="a0000000")
    assert shared.git(again) is again
