"""The agent's work directory: one per run under `--work-dir`, locked for as long as the run lives.

Jobs run in temporary directories inside it. A run that ends removes it. A run that was killed
cannot, so every agent starting in the same `--work-dir` first removes the directories whose lock
nobody holds: the kernel drops a process's locks when it dies, however it dies. Directories of
runs still alive (other agents on the same host) keep their lock and are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)
PREFIX = "jetdeck-agent-"
STAGING = f".{PREFIX}"
"""A directory is made under this prefix and renamed once locked, so a sweep never sees it
unlocked."""
LOCK = ".lock"


@contextlib.contextmanager
def run_directory(parent: Path) -> Iterator[Path]:
    """This run's directory, made after removing those of runs that are gone; removed at exit."""
    parent.mkdir(parents=True, exist_ok=True)
    for path in sweep(parent):
        log.info("removed %s, left behind by an agent that is gone", path)
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=parent))
    # Python opens descriptors non-inheritable, so a job's leftover children never hold the lock.
    fd = os.open(staging / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = staging.rename(parent / (PREFIX + staging.name.removeprefix(STAGING)))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
    finally:
        os.close(fd)


def sweep(parent: Path) -> list[Path]:
    """Remove the run directories under `parent` whose run is gone; the ones removed."""
    removed = []
    for path in sorted(parent.glob(PREFIX + "*")):
        if path.is_dir() and _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    try:
        fd = os.open(path / LOCK, os.O_RDWR)
    except FileNotFoundError:  # half removed by another sweep: finish the job
        return True
    except OSError:  # not ours to judge (permissions): leave it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
