"""Work done in a forked child: its result, its failure, a frozen state, and its death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from domain.errors import UnavailableError
from infra.forked import Forked
from tests.processes import still_running
from tests.queue_helpers import eventually

CHILD_OF_A_PARENT = """
import asyncio, sys, time
from infra.forked import Forked

async def main():
    child = Forked(lambda: time.sleep(3600) or b"")
    print(child.pid, flush=True)
    await child.result()

asyncio.run(main())
"""


async def test_the_result_is_what_the_work_returned() -> None:
    big = os.urandom(3 * 2**20)  # larger than a pipe's buffer
    assert await Forked(lambda: big[::-1]).result() == big[::-1]


async def test_the_child_ends_before_anyone_reads_its_result() -> None:
    big = os.urandom(3 * 2**20)  # through a pipe it would wait for a reader with most unwritten
    child = Forked(lambda: big)

    async def ended() -> bool:
        return bool(psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE)

    await eventually(ended, 10, "the child exited, its result unread")
    assert await child.result() == big


async def test_the_child_sees_the_state_at_the_fork_not_after() -> None:
    state = [b"before"]
    child = Forked(lambda: b"".join(state))
    state[0] = b"after"
    assert await child.result() == b"before"


async def test_a_failing_child_is_unavailable() -> None:
    def broken() -> bytes:
        raise RuntimeError("no picture")

    with pytest.raises(UnavailableError, match="ended with 1"):
        await Forked(broken).result()


def test_the_child_dies_with_its_parent_killed_by_sigkill() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD_OF_A_PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.ppid() == parent.pid
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert still_running([child.pid], deadline_s=10) == []
    finally:
        parent.kill()


async def test_a_child_past_its_deadline_is_killed() -> None:
    def forever() -> bytes:
        time.sleep(3600)
        return b""

    child = Forked(forever, deadline_s=0.2)
    with pytest.raises(TimeoutError):
        await child.result()
    assert not psutil.pid_exists(child.pid)  # killed and reaped
