"""Batch claims under agent failure: 2,000 jobs drained by agents that claim eight at a time, two
of them killed (SIGKILL) while holding a batch. No job is lost, no attempt is run twice, and
the log shows every claim any agent was granted, the killed ones' included."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from domain.job import Job
from domain.job_status import JobStatus
from domain.recorded import RecordedEvent
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from tests.e2e.conftest import REGISTRATION_TOKEN, Api, Proc, serving_api, spawn
from tests.queue_helpers import NEW_JOB, QUEUE_API, eventually, job_log, per_job
from tests.tokens import ADMIN_TOKEN

JOBS = 2_000
BATCH = 500
AGENTS = 4
KILLED = 2
LEASE_S = 2
Held = tuple[str, int]
"""(job id, attempt)"""


@pytest.fixture
async def api(fresh_server: EmbeddedServer, tmp_path: Path) -> AsyncIterator[Api]:
    """An API of this test's own: tickets of lost attempts come back after 3 s, not 30."""
    async with serving_api(
        fresh_server.url, tmp_path / "api.log", JETDECK_QUEUE_ACK_WAIT_S="3"
    ) as found:
        yield found


class Fleet:
    def __init__(self, api: Api, work_dir: Path) -> None:
        self.api = api
        self.work_dir = work_dir
        self.procs: list[Proc] = []

    async def start(self, name: str) -> Proc:
        args = ["-m", "tests.e2e.batch_agent", "--api", self.api.url, "--name", name]
        args += ["--pool", "default", "--registration-token", REGISTRATION_TOKEN]
        proc = await spawn(name, args, self.work_dir / f"{name}.log", {})
        self.procs.append(proc)
        return proc

    def lines(self, proc: Proc, word: str) -> set[Held]:
        found = (line.split() for line in proc.output().splitlines())
        return {(f[1], int(f[2])) for f in found if len(f) == 3 and f[0] == word}

    def claimed(self, proc: Proc) -> set[Held]:
        return self.lines(proc, "claimed")

    def agent_id(self, proc: Proc) -> str:
        return next(
            line.split()[1] for line in proc.output().splitlines() if line.startswith("agent ")
        )

    async def stop(self) -> None:
        await asyncio.gather(*(proc.stop() for proc in self.procs))
        for proc in self.procs:
            print(f"----- {proc.name} -----\n{proc.output()[-2000:]}")


async def enqueue(client: httpx.AsyncClient) -> set[str]:
    job = NEW_JOB | {"lease_s": LEASE_S, "max_attempts": 10}
    queued: set[str] = set()
    for start in range(0, JOBS, BATCH):
        headers = {"Idempotency-Key": f"batch-{start}"}
        answer = await client.post(
            f"{QUEUE_API}/jobs:batch", json={"jobs": [job] * BATCH}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        queued |= {j["job_id"] for j in answer.json()["jobs"] if j["status"] == 201}
    return queued


@pytest.mark.timeout(300)  # past its own deadlines (two kills, 120 s to drain), which say more
async def test_agents_killed_mid_batch_lose_no_job_and_run_no_attempt_twice(
    api: Api, fresh_server: EmbeddedServer, tmp_path: Path
) -> None:
    fleet = Fleet(api, tmp_path)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, timeout=30, headers=headers) as client:
        queued = await enqueue(client)
        assert len(queued) == JOBS
        try:
            agents = [await fleet.start(f"agent-{n}") for n in range(AGENTS)]
            doomed = agents[:KILLED]
            held_at_kill: dict[str, set[Held]] = {}
            for proc in doomed:

                async def mid_batch(proc: Proc = proc) -> bool:
                    """It holds a batch it has not finished: claimed, not all done."""
                    return bool(fleet.claimed(proc) - fleet.lines(proc, "done"))

                await eventually(mid_batch, 30, f"{proc.name} holding a batch")
                proc.signal(signal.SIGKILL)
                assert await proc.exit_code(10) == -signal.SIGKILL
                held_at_kill[proc.name] = fleet.claimed(proc) - fleet.lines(proc, "done")
            for n in range(KILLED):
                await fleet.start(f"replacement-{n}")

            async def drained() -> bool:
                """By the read models, not the agents' output: a killed agent may die after its
                completion was recorded and before it printed it."""
                summary = (await client.get("/api/dashboard/summary")).json()
                return bool(summary["jobs_by_status"]["success"] >= JOBS)

            await eventually(drained, 120, "every job completed")
        finally:
            await fleet.stop()
    nc = await connect(fresh_server.url, "batch-claims-check")
    log = await job_log(EventStore(nc))
    await nc.close()
    assert all(held_at_kill.values()), held_at_kill
    assert per_job(log, Job.Completed) == Counter(dict.fromkeys(queued, 1))
    statuses = {r.event.status for r in log if isinstance(r.event, Job.Completed)}
    assert statuses == {JobStatus.SUCCESS}
    attempts = _attempts(log)
    assert set(Counter(attempts[Job.Claimed]).values()) == {1}  # no attempt claimed twice
    assert set(Counter(attempts[Job.Started]).values()) == {1}  # nor run twice
    logged = dict(attempts[Job.Claimed])
    granted = {held for proc in fleet.procs for held in fleet.claimed(proc)}
    assert granted <= logged.keys()  # every claim an agent was granted is in the log
    killed = {fleet.agent_id(proc) for proc in doomed}
    assert {logged[held] for held in logged.keys() - granted} <= killed  # answers lost in a kill
    ended = {held for held, _ in attempts[Job.Completed]}
    lost = {held for holding in held_at_kill.values() for held in holding} - ended
    assert lost, "every job a killed agent held was finished before it died"
    assert {(job, attempt + 1) for job, attempt in lost} <= logged.keys()  # claimed anew


def _attempts(log: list[RecordedEvent]) -> dict[type, list[tuple[Held, str]]]:
    """Per event type, each job event's (job, attempt) with the agent of the claim: the attempt
    is the last one claimed before the event."""
    current: dict[str, tuple[int, str]] = {}
    found: dict[type, list[tuple[Held, str]]] = {}
    for recorded in log:
        job = recorded.aggregate_id
        if isinstance(recorded.event, Job.Claimed):
            current[job] = (recorded.event.attempt, recorded.event.agent_id)
        attempt, agent = current.get(job, (0, ""))
        found.setdefault(type(recorded.event), []).append(((job, attempt), agent))
    return found
