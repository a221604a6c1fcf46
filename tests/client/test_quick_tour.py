"""The README's quick tour, through the client, once blocking and once with asyncio."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from domain.agent import HostInfo
from domain.deployment import DeploymentStatus, Environment, Outcome
from domain.job import CompletionReport, JobStatus
from domain.queue import Priority, QueueSpec
from projections.job_rows import JobFilter
from tests.client.helpers import GIT, Deck, done, every
from tests.e2e.conftest import REGISTRATION_TOKEN
from tests.tokens import ADMIN_TOKEN

HOST = HostInfo(hostname="h1", os="linux", arch="x86_64", cpu_count=2, memory_mb=1024)


async def test_a_service_reports_a_job(decks: Callable[[str], Deck]) -> None:
    deck = decks(ADMIN_TOKEN)
    name = f"ci-{uuid4().hex[:8]}"
    issued = await done(deck.create_token(name, ["deployer"], ["api-backend"]))
    assert (issued["name"], issued["token"].startswith("jdsvc_")) == (name, True)

    key = f"build-{uuid4().hex}"
    created = await done(deck.create_job("test", GIT, idempotency_key=key))
    assert (created.status, created.idempotency_key) == (JobStatus.PENDING, key)
    job_id = created.id
    assert (await done(deck.start_job(job_id))).status == JobStatus.RUNNING
    completed = await done(deck.complete_job(job_id, JobStatus.SUCCESS, exit_code=0))
    assert completed.status == JobStatus.SUCCESS

    where = JobFilter(repo="org/repo", status=JobStatus.SUCCESS)
    listed = await every(deck.jobs(where, min_seq=completed.seq))
    assert str(job_id) in {job.job_id for job in listed}
    job = await done(deck.get_job(job_id, min_seq=completed.seq))
    assert [change.status for change in job.history] == [
        JobStatus.PENDING,
        JobStatus.RUNNING,
        JobStatus.SUCCESS,
    ]
    trail = await done(deck.audit("job", job_id))
    assert trail["chain_valid"] is True
    assert [e["type"] for e in trail["events"]] == ["job.Created", "job.Started", "job.Completed"]


async def test_a_deployment_goes_live_then_rolls_back(decks: Callable[[str], Deck]) -> None:
    deck = decks(ADMIN_TOKEN)
    version = f"v1.0.{uuid4().int % 10_000}"
    created = await done(deck.create_deployment("api-backend", version, GIT))
    assert created.status == DeploymentStatus.PENDING
    dep = created.id
    staged = await done(deck.report_stage(dep, Environment.STAGING, Outcome.SUCCEEDED))
    assert staged.status == DeploymentStatus.STAGED
    live = await done(deck.report_stage(dep, Environment.PRODUCTION, Outcome.SUCCEEDED))
    assert live.status == DeploymentStatus.LIVE
    summary = await done(deck.summary(min_seq=live.seq))
    assert summary.live_versions["api-backend"][Environment.PRODUCTION] == version
    rolled = await done(deck.roll_back(dep, "error rate"))
    assert rolled.status == DeploymentStatus.ROLLED_BACK
    seen = await done(deck.get_deployment(dep, min_seq=rolled.seq))
    assert seen.status == DeploymentStatus.ROLLED_BACK


async def test_an_agent_runs_a_queued_job(decks: Callable[[str], Deck]) -> None:
    deck, agent = decks(ADMIN_TOKEN), decks(REGISTRATION_TOKEN)
    pool = f"tour-{uuid4().hex[:8]}"
    spec = QueueSpec(pool=pool, priority=Priority.HIGH, lease_s=6, command="echo step 1")
    queued = await done(deck.enqueue("build", GIT, spec))
    assert (queued.status, queued.body["existing"]) == (JobStatus.QUEUED, False)

    registered = await done(agent.register_agent("a1", HOST, pool=pool))
    agent_id = str(registered.id)
    agent.set_token(registered.body["agent_token"])
    beat = await done(agent.agent_heartbeat(agent_id, cpu_pct=5, mem_pct=5, disk_pct=5))
    agent.set_token(beat["agent_token"])
    claimed = await done(agent.claim(agent_id, pool=pool, wait_s=10))
    assert claimed is not None
    assert (claimed["job"]["job_id"], claimed["job"]["command"]) == (str(queued.id), "echo step 1")
    token = claimed["claim_token"]
    assert (await done(agent.start_claimed(queued.id, token))).status == JobStatus.RUNNING
    report = CompletionReport(exit_code=0, summary="ok")
    finished = await done(agent.complete_claimed(queued.id, token, report))
    assert finished.status == JobStatus.SUCCESS

    job = await done(deck.get_job(queued.id, min_seq=finished.seq))
    assert (job.status, job.agent_id, job.attempts) == (JobStatus.SUCCESS, agent_id, 1)
    stats = await every(deck.queue_stats())
    assert pool in {level.pool for level in stats}
    agents = await every(deck.agents(pool=pool))
    assert [a.agent_id for a in agents] == [agent_id]
    scaling = await done(deck.scaling(pool))
    assert (scaling["pool"], scaling["queue_depth"]) == (pool, 0)
