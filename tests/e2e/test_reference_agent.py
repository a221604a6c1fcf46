"""The reference agent as a real process against the API as a real process.

Deadlines bound how long a test waits for something that must happen ("killed within the
grace period"); nothing asserts how fast it happened.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from domain.job import Job
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from infra.codec import decode
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore
from infra.layout import aggregate_filter
from tests.api.helpers import every_item, ok
from tests.e2e.conftest import Agents
from tests.processes import alive
from tests.queue_helpers import eventually

WITHIN_S = 60.0
"""Deadline for a job to reach a status: generous, since processes start and leases run out."""
E = TypeVar("E", bound=DomainEvent)
FINISHED = {"success", "failed", "timeout", "cancelled", "error", "dead_lettered"}
NEW_JOB = {
    "job_type": "build",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
}


async def enqueue(client: httpx.AsyncClient, pool: str, command: str, **spec: Any) -> str:
    """The new job's id, once the API's read models hold it."""
    return (await enqueued(client, pool, command, **spec))[0]


async def enqueued(
    client: httpx.AsyncClient, pool: str, command: str, **spec: Any
) -> tuple[str, int]:
    """The new job's id and the sequence of its event: reads after it ask for `min_seq`."""
    body = NEW_JOB | {"pool": pool, "command": command} | spec
    queued = ok(await client.post("/api/queue/jobs", json=body), 201)
    job_id: str = (await job(client, queued["job_id"], queued["seq"]))["job_id"]
    return job_id, queued["seq"]


async def job(client: httpx.AsyncClient, job_id: str, min_seq: int = 0) -> Any:
    return ok(await client.get(f"/api/dashboard/jobs/{job_id}", params={"min_seq": min_seq}))


async def reaches(
    client: httpx.AsyncClient,
    job_id: str,
    statuses: set[str],
    within_s: float = WITHIN_S,
    min_seq: int = 0,
) -> Any:
    """Polls until the job is in one of `statuses`; `min_seq`: the caller's last write, so no
    read answers from read models that have not seen it."""

    last: dict[str, Any] = {}

    async def check() -> Any:
        view = last["view"] = await job(client, job_id, min_seq)
        return view if view["status"] in statuses else None

    try:
        return await eventually(check, within_s, f"job {job_id} in {sorted(statuses)}")
    except AssertionError as exc:  # where it stood says which process to look at
        raise AssertionError(f"{exc}; last seen: {last.get('view')}") from exc


async def finished(client: httpx.AsyncClient, job_id: str, min_seq: int = 0) -> Any:
    return await reaches(client, job_id, FINISHED, min_seq=min_seq)


async def log_of(client: httpx.AsyncClient, job_id: str) -> list[Any]:
    return await every_item(client, f"/api/dashboard/jobs/{job_id}/logs")


def texts(chunks: list[Any], stream: str) -> list[str]:
    return [c["text"] for c in chunks if c["stream"] == stream]


def of_type(log: list[RecordedEvent], kind: type[E]) -> list[E]:
    return [e for r in log if isinstance(e := r.event, kind)]


@pytest.fixture
async def events(nats_server: EmbeddedServer) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    nc = await connect(nats_server.url, "e2e-audit")
    store = EventStore(nc)

    async def of_job(job_id: str) -> list[RecordedEvent]:
        stored = await store.load(aggregate_filter("job", job_id))
        return [decode(m.seq, m.subject, m.payload) for m in stored]

    yield of_job
    await nc.close()


async def test_a_shell_job_runs_with_its_whole_log_in_order(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    await agents.start("a1")
    command = "for i in $(seq 1 200); do echo line$i; done; echo err1 1>&2; echo err2 1>&2; exit 3"

    job_id = await enqueue(client, agents.pool, command)
    view = await finished(client, job_id)

    assert (view["status"], view["exit_code"]) == ("failed", 3)
    chunks = await log_of(client, job_id)
    assert texts(chunks, "stdout") == [f"line{i}\n" for i in range(1, 201)]
    assert texts(chunks, "stderr") == ["err1\n", "err2\n"]
    assert [c["seq"] for c in chunks] == sorted(c["seq"] for c in chunks)


async def test_exit_codes_decide_success_and_failed(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    await agents.start("a1", "--slots", "2")

    passed = await enqueue(client, agents.pool, "echo line1; echo line2 1>&2; exit 0")
    failed = await enqueue(client, agents.pool, "echo line1; echo line2 1>&2; exit 3")

    assert (await finished(client, passed))["status"] == "success"
    view = await finished(client, failed)
    assert (view["status"], view["exit_code"]) == ("failed", 3)
    for job_id in (passed, failed):
        chunks = await log_of(client, job_id)
        assert (texts(chunks, "stdout"), texts(chunks, "stderr")) == (["line1\n"], ["line2\n"])


async def test_a_followed_log_streams_while_the_job_runs(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    job_id = await enqueue(client, agents.pool, "echo one; sleep 1; echo two 1>&2; echo three")
    path = f"/api/dashboard/jobs/{job_id}/logs"
    events: list[tuple[str, str]] = []

    async with client.stream("GET", path, params={"follow": "true"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        await agents.start("a1")  # only now can the job run: the stream is already open
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, line.removeprefix("data: ")))

    chunks = [orjson.loads(data) for kind, data in events if kind == "chunk"]
    assert [(c["stream"], c["text"]) for c in chunks] == [
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
    ]
    assert events[-1] == ("end", '{"status":"success"}')


async def test_free_slots_are_filled_by_one_claim_and_the_jobs_run_at_once(
    client: httpx.AsyncClient, agents: Agents, events: Callable[[str], Awaitable[Any]]
) -> None:
    """Three jobs wait before an agent with three slots starts: one claim takes all three, and
    they run side by side."""
    job_ids = [await enqueue(client, agents.pool, "sleep 1; echo done") for _ in range(3)]
    agent = await agents.start("a1", "--slots", "3")

    for job_id in job_ids:
        assert (await finished(client, job_id))["status"] == "success"
    assert "claimed 3 job(s) for 3 free slot(s)" in agent.output()
    logs = [await events(job_id) for job_id in job_ids]
    starts = [r.seq for log in logs for r in log if isinstance(r.event, Job.Started)]
    ends = [r.seq for log in logs for r in log if isinstance(r.event, Job.Completed)]
    assert len(starts) == len(ends) == 3
    assert max(starts) < min(ends)


async def test_a_job_over_its_timeout_ends_as_timeout(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    await agents.start("a1", "--grace-s", "1")

    job_id = await enqueue(client, agents.pool, "echo started; sleep 60", timeout_s=1)
    view = await finished(client, job_id)

    assert view["status"] == "timeout"
    chunks = await log_of(client, job_id)
    assert texts(chunks, "stdout") == ["started\n"]
    assert any("timed out" in text for text in texts(chunks, "stderr"))


@pytest.mark.parametrize(
    "command",
    ["echo $$ > {pidfile}; exec sleep 30", "trap '' TERM; echo $$ > {pidfile}; sleep 30"],
    ids=["stops on SIGTERM", "ignores SIGTERM"],
)
async def test_a_cancelled_job_is_killed_within_the_grace_period(
    client: httpx.AsyncClient, agents: Agents, tmp_path: Path, command: str
) -> None:
    grace_s, lease_s = 2, 3  # the lease heartbeat, which says "cancelled", comes every second
    await agents.start("a1", "--grace-s", str(grace_s))
    pidfile = tmp_path / "job.pid"
    job_id = await enqueue(
        client, agents.pool, command.format(pidfile=pidfile), lease_s=lease_s, timeout_s=600
    )
    await reaches(client, job_id, {"running"})

    def pid() -> int | None:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        return int(text) if text else None

    shell: int = await eventually(pid, WITHIN_S, "the job wrote its pid")
    cancelled = ok(await client.post(f"/api/queue/jobs/{job_id}/cancel"))

    await eventually(
        lambda: not alive(shell), lease_s / 3 + grace_s + 10, "the job's process was killed"
    )
    assert (await job(client, job_id, cancelled["seq"]))["status"] == "cancelled"


async def test_a_killed_agents_job_is_finished_once_by_another_agent(
    client: httpx.AsyncClient,
    agents: Agents,
    events: Callable[[str], Awaitable[list[RecordedEvent]]],
) -> None:
    first = await agents.start("doomed")
    job_id = await enqueue(client, agents.pool, "sleep 3; echo done", lease_s=3)
    running = await reaches(client, job_id, {"running"})
    doomed_id = running["agent_id"]

    first.signal(signal.SIGKILL)
    await first.exit_code(WITHIN_S)
    await agents.start("rescuer")
    view = await finished(client, job_id)

    assert view["status"] == "success"
    assert view["agent_id"] != doomed_id
    log = await events(job_id)
    assert len(of_type(log, Job.Completed)) == 1
    lost = of_type(log, Job.AttemptLost)
    assert [(e.attempt, e.agent_id) for e in lost] == [(1, doomed_id)]
    assert [e.agent_id for e in of_type(log, Job.Claimed)] == [doomed_id, view["agent_id"]]
    history = [(h["event"], h.get("agent_id")) for h in view["history"]]
    assert ("job.AttemptLost", doomed_id) in history
    assert texts(await log_of(client, job_id), "stdout") == ["done\n"]


async def test_sigterm_releases_a_running_job_for_another_agent(
    client: httpx.AsyncClient,
    agents: Agents,
    tmp_path: Path,
    events: Callable[[str], Awaitable[list[RecordedEvent]]],
) -> None:
    marker = tmp_path / "ran-once"
    command = f"if [ -e {marker} ]; then echo second; else touch {marker}; echo first; sleep 60; fi"
    leaving = await agents.start("leaving", "--shutdown-grace-s", "1", "--grace-s", "1")
    job_id = await enqueue(client, agents.pool, command)
    await reaches(client, job_id, {"running"})
    await eventually(marker.exists, WITHIN_S, "the first run began")

    leaving.signal(signal.SIGTERM)
    assert await leaving.exit_code(WITHIN_S) == 0
    await agents.start("staying")
    view = await finished(client, job_id)

    assert view["status"] == "success"
    log = await events(job_id)
    assert [len(of_type(log, t)) for t in (Job.Released, Job.Completed, Job.AttemptLost)] == [
        1,
        1,
        0,
    ]
    assert texts(await log_of(client, job_id), "stdout") == ["first\n", "second\n"]


async def test_a_drained_agent_finishes_its_job_and_exits(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    agent = await agents.start("drained")
    job_id, seq = await enqueued(client, agents.pool, "sleep 2; echo finished")
    running = await reaches(client, job_id, {"running"}, min_seq=seq)

    drained = ok(await client.post(f"/api/agents/{running['agent_id']}/drain"))

    assert await agent.exit_code(WITHIN_S) == 0
    assert (await finished(client, job_id, drained["seq"]))["status"] == "success"
