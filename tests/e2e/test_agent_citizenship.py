"""The reference agent as a good citizen, as real processes: SIGTERM gives a running job back and
deregisters, work directories never outlive their agent, and exit codes decide retries."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from agent.workdir import PREFIX
from tests.api.helpers import ok
from tests.e2e.conftest import Agents
from tests.e2e.test_reference_agent import WITHIN_S, enqueue, finished, reaches
from tests.queue_helpers import eventually


def run_dirs(work_dir: Path) -> list[Path]:
    return sorted(work_dir.glob(PREFIX + "*"))


def recorded_by_job(command: str, tmp_path: Path) -> tuple[str, Path, Path]:
    """`command` after the job writes its pid and its working directory where the test reads
    them."""
    pid, cwd = tmp_path / "job.pid", tmp_path / "job.cwd"
    return f"echo $$ > {pid}; pwd > {cwd}; {command}", pid, cwd


def written(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def exists(path: Path) -> bool:
    return path.exists()


async def agent_status(client: httpx.AsyncClient, agent_id: str) -> str:
    status: str = ok(await client.get(f"/api/agents/{agent_id}"))["status"]
    return status


async def test_sigterm_releases_the_job_unspent_deregisters_and_cleans_up(
    client: httpx.AsyncClient, agents: Agents, tmp_path: Path
) -> None:
    command, _, cwd = recorded_by_job("exec sleep 60", tmp_path)
    leaving = await agents.start("leaving", "--shutdown-grace-s", "1", "--grace-s", "1")
    job_id = await enqueue(client, agents.pool, command)
    agent_id = (await reaches(client, job_id, {"running"}))["agent_id"]
    job_dir = Path(await eventually(lambda: written(cwd), WITHIN_S, "the job wrote its cwd"))
    (own,) = run_dirs(agents.work_dir)
    assert exists(job_dir)
    assert job_dir.is_relative_to(own)

    leaving.signal(signal.SIGTERM)
    assert await leaving.exit_code(WITHIN_S) == 0

    view = await reaches(client, job_id, {"queued"})
    assert view["attempts"] == 0
    assert view["attempt_history"][-1]["outcome"] == "released"

    async def terminated() -> bool:
        return await agent_status(client, agent_id) == "terminated"

    await eventually(terminated, WITHIN_S, "the agent deregistered")
    assert not exists(job_dir)
    assert run_dirs(agents.work_dir) == []


async def test_a_work_directory_left_by_a_killed_agent_is_removed_at_the_next_start(
    client: httpx.AsyncClient, agents: Agents, tmp_path: Path
) -> None:
    command, pid, cwd = recorded_by_job("exec sleep 60", tmp_path)
    crashed = await agents.start("crashed")
    job_id = await enqueue(client, agents.pool, command)
    await reaches(client, job_id, {"running"})
    job_dir = Path(await eventually(lambda: written(cwd), WITHIN_S, "the job wrote its cwd"))
    job_pid = int(await eventually(lambda: written(pid), WITHIN_S, "the job wrote its pid"))
    try:
        crashed.signal(signal.SIGKILL)
        await crashed.exit_code(WITHIN_S)
        (left_behind,) = run_dirs(agents.work_dir)
        assert job_dir.is_relative_to(left_behind)

        await agents.start("next")

        def swept() -> Any:
            found = run_dirs(agents.work_dir)
            return found if found and left_behind not in found else None

        (own,) = await eventually(swept, WITHIN_S, "the next agent removed the old directory")
        assert not exists(job_dir)
        assert own != left_behind
    finally:
        with contextlib.suppress(ProcessLookupError):  # the killed agent's job outlived it
            os.killpg(job_pid, signal.SIGKILL)


async def test_exit_codes_the_retry_rule_covers_run_again_and_others_fail_at_once(
    client: httpx.AsyncClient, agents: Agents
) -> None:
    await agents.start("a1", "--slots", "2")
    rule = {"exit_codes": [3], "max_attempts": 2}

    flaky = await enqueue(client, agents.pool, "exit 3", retry=rule)
    broken = await enqueue(client, agents.pool, "exit 4", retry=rule)

    retried, failed = await finished(client, flaky), await finished(client, broken)
    assert (retried["status"], retried["exit_code"], retried["attempts"]) == ("failed", 3, 2)
    assert [a["outcome"] for a in retried["attempt_history"]] == ["failed", "failed"]
    assert (failed["status"], failed["exit_code"], failed["attempts"]) == ("failed", 4, 1)
