"""Restarts with backoff, and giving up on a crash loop, with real (short-lived) processes."""

from __future__ import annotations

import os

import pytest

from workers.supervision import CrashLoopError, RestartPolicy, Supervised

FAST = RestartPolicy(first_delay_s=0.01, max_delay_s=0.05, max_exits=3, window_s=60)


def test_the_delay_doubles_with_each_recent_exit_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay_s=0.5, max_delay_s=4)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]


async def test_a_worker_that_keeps_exiting_is_restarted_then_given_up_on() -> None:
    ended: list[tuple[str, int]] = []

    async def exited(module: str, pid: int) -> None:
        ended.append((module, pid))

    worker = Supervised("tests.e2e.exit_at_once", dict(os.environ), FAST, exited)
    with pytest.raises(CrashLoopError, match=r"exited 3 times in 60 s \(last with 3\)"):
        await worker.run()
    assert worker.restarts == 2
    assert [module for module, _ in ended] == ["tests.e2e.exit_at_once"] * 3
    assert len({pid for _, pid in ended}) == 3  # three processes, each told of once


async def test_exits_outside_the_window_are_not_a_loop() -> None:
    async def exited(module: str, pid: int) -> None:
        if len(seen) == 4:
            await worker.stop()
        seen.append(pid)

    seen: list[int] = []
    no_window = RestartPolicy(first_delay_s=0.01, max_delay_s=0.01, max_exits=3, window_s=0)
    worker = Supervised("tests.e2e.exit_at_once", dict(os.environ), no_window, exited)
    await worker.run()
    assert len(seen) == 5
