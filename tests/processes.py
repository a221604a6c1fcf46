"""Whether processes a test started (or made others start) still run."""

from __future__ import annotations

import time
from collections.abc import Iterable

import psutil


def alive(pid: int) -> bool:
    """Alive, not a zombie: an orphan that died stays one until PID 1 reaps it."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def still_running(pids: Iterable[int], deadline_s: float) -> list[int]:
    """Those of `pids` still running once `deadline_s` passed, or as soon as none is."""
    deadline = time.monotonic() + deadline_s
    left = [pid for pid in pids if alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    return left
