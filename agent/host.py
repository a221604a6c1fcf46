"""What the agent tells the API about its host: what it is at registration, how loaded it is in
every heartbeat (psutil)."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path
from typing import NamedTuple

import psutil

from domain.agent import HostInfo


class Load(NamedTuple):
    cpu_pct: float
    mem_pct: float
    disk_pct: float


def host_info() -> HostInfo:
    return HostInfo(
        hostname=socket.gethostname()[:200].strip() or "unknown",
        os=platform.system().lower() or "unknown",
        arch=platform.machine() or "unknown",
        cpu_count=os.cpu_count() or 1,
        memory_mb=max(1, psutil.virtual_memory().total // 2**20),
    )


def start_cpu_sampling() -> None:
    """psutil measures CPU between two calls; the first one only starts the clock."""
    psutil.cpu_percent(interval=None)


def load(work_dir: Path) -> Load:
    """CPU since the previous call, memory and the work directory's disk, in percent."""
    return Load(
        cpu_pct=float(psutil.cpu_percent(interval=None)),
        mem_pct=float(psutil.virtual_memory().percent),
        disk_pct=float(psutil.disk_usage(str(work_dir)).percent),
    )
