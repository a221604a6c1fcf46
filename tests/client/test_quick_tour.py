"""The README's quick tour, through the client, once blocking and once with asyncio."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from client import Written
from domain.agent import HostInfo
from domain.deployment import DeploymentStatus, Environment, Outcome
from domain.job_reports import CompletionReport
from domain.job_status import JobStatus
from domain.queue import Priority, QueueSpec
from projections.agents import AgentView
from projections.job_views import JobFilter, JobView
from projections.queue import LevelStats
from tests.client.helpers import GIT, Deck, done, every
from tests.e2e.conftest import REGISTRATION_TOKEN
from tests.tokens import ADMIN_TOKEN
from wire.access import IssuedToken
from wire.agents import AgentHeartbeatAnswer, Registered, Scaling
from wire.audit import AuditTrail
from wire.deployments import DeploymentAccepted
from wire.jobs import JobAccepted
from wire.queue import ClaimAnswer, Enqueued, JobAnswer

HOST = HostInfo(hostname="h1", os="linux", arch="x86_64", cpu_count=2, memory_mb=1024)


async def test_a_service_reports_a_job(decks: Callable[[str], Deck]) -> None:
    deck = decks(ADMIN_TOKEN)
    name = f"ci-{uuid4().hex[:8]}"
    issued = await done(deck.create_token(name, ["deployer"], ["api-backend"]))
    assert isinstance(issued.value, IssuedToken)
    assert (issued.value.name, issued.value.token.startswith("jdsvc_")) == (name, True)
    assert issued.seq == issued.value.seq > 0

    key = f"build-{uuid4().hex}"
    created = await done(deck.create_job("test", GIT, idempotency_key=key))
    assert isinstance(created, Written)
    assert isinstance(created.value, JobAccepted)
    assert (created.value.status, created.idempotency_key) == (JobStatus.PENDING, key)
    job_id = created.value.job_id
    started = await done(deck.start_job(job_id))
    assert (started.value.job_id, started.value.status) == (job_id, JobStatus.RUNNING)
    completed = await done(deck.complete_job(job_id, JobStatus.SUCCESS, exit_code=0))
    assert completed.value.status == JobStatus.SUCCESS
    assert created.seq < started.seq < completed.seq

    where = JobFilter(repo="org/repo", status=JobStatus.SUCCESS)
    listed = await every(deck.jobs(where, min_seq=completed.seq))
    assert all(isinstance(job, JobView) for job in listed)
    assert str(job_id) in {job.job_id for job in listed}
    job = await done(deck.get_job(job_id, min_seq=completed.seq))
    assert isinstance(job, JobView)
    assert [change.status for change in job.history] == [
        JobStatus.PENDING,
        JobStatus.RUNNING,
        JobStatus.SUCCESS,
    ]
    trail = await done(deck.audit("job", job_id))
    assert isinstance(trail, AuditTrail)
    assert (trail.id, trail.chain_valid) == (job_id, True)
    assert [e.type for e in trail.events] == ["job.Created", "job.Started", "job.Completed"]
    assert [e.seq for e in trail.events] == [created.seq, started.seq, completed.seq]


async def test_a_deployment_goes_live_then_rolls_back(decks: Callable[[str], Deck]) -> None:
    deck = decks(ADMIN_TOKEN)
    version = f"v1.0.{uuid4().int % 10_000}"
    created = await done(deck.create_deployment("api-backend", version, GIT))
    assert isinstance(created.value, DeploymentAccepted)
    assert created.value.status == DeploymentStatus.PENDING
    dep = created.value.deployment_id
    staged = await done(deck.report_stage(dep, Environment.STAGING, Outcome.SUCCEEDED))
    assert (staged.value.deployment_id, staged.value.status) == (dep, DeploymentStatus.STAGED)
    live = await done(deck.report_stage(dep, Environment.PRODUCTION, Outcome.SUCCEEDED))
    assert live.value.status == DeploymentStatus.LIVE
    summary = await done(deck.summary(min_seq=live.seq))
    assert summary.live_versions["api-backend"][Environment.PRODUCTION] == version
    rolled = await done(deck.roll_back(dep, "error rate"))
    assert rolled.value.status == DeploymentStatus.ROLLED_BACK
    seen = await done(deck.get_deployment(dep, min_seq=rolled.seq))
    assert seen.status == DeploymentStatus.ROLLED_BACK


async def test_an_agent_runs_a_queued_job(decks: Callable[[str], Deck]) -> None:
    deck, agent = decks(ADMIN_TOKEN), decks(REGISTRATION_TOKEN)
    pool = f"tour-{uuid4().hex[:8]}"
    spec = QueueSpec(pool=pool, priority=Priority.HIGH, lease_s=6, command="echo step 1")
    queued = await done(deck.enqueue("build", GIT, spec))
    assert isinstance(queued.value, Enqueued)
    assert (queued.value.status, queued.value.existing) == (JobStatus.QUEUED, False)
    job_id = queued.value.job_id

    registered = await done(agent.register_agent("a1", HOST, pool=pool))
    assert isinstance(registered.value, Registered)
    agent_id = str(registered.value.agent_id)
    agent.set_token(registered.value.agent_token)
    beat = await done(agent.agent_heartbeat(agent_id, cpu_pct=5, mem_pct=5, disk_pct=5))
    assert isinstance(beat, AgentHeartbeatAnswer)
    agent.set_token(beat.agent_token)
    claimed = await done(agent.claim(agent_id, pool=pool, wait_s=10))
    assert isinstance(claimed, ClaimAnswer)
    assert (claimed.job.job_id, claimed.job.command, claimed.job.attempt) == (
        job_id,
        "echo step 1",
        1,
    )
    token = claimed.claim_token
    started = await done(agent.start_claimed(job_id, token))
    assert isinstance(started.value, JobAnswer)
    assert started.value.status == JobStatus.RUNNING
    report = CompletionReport(exit_code=0, summary="ok")
    finished = await done(agent.complete_claimed(job_id, token, report))
    assert finished.value.status == JobStatus.SUCCESS

    job = await done(deck.get_job(job_id, min_seq=finished.seq))
    assert (job.status, job.agent_id, job.attempts) == (JobStatus.SUCCESS, agent_id, 1)
    stats = await every(deck.queue_stats())
    assert all(isinstance(level, LevelStats) for level in stats)
    assert pool in {level.pool for level in stats}
    agents = await every(deck.agents(pool=pool))
    assert all(isinstance(a, AgentView) for a in agents)
    assert [a.agent_id for a in agents] == [agent_id]
    scaling = await done(deck.scaling(pool))
    assert isinstance(scaling, Scaling)
    assert (scaling.pool, scaling.queue_depth) == (pool, 0)
