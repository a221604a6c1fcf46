"""Files a process keeps only while it runs, under `<data_dir>/scratch/`, and files a process
of a given name keeps from one run to the next, under `<data_dir>/read-models/`.

Each is held by an exclusive `flock` on a `.lock` file beside it for as long as its owner lives;
the kernel lets the lock go however the owner ends, so the next process to make a scratch file
removes every group whose lock it can take: a killed owner's (SIGKILL, OOM) is gone at the next
start. A lock, not a pid: pids are reused, and differ between containers sharing a data dir.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from uuid import uuid4

LOCK = ".lock"


class ScratchFile:
    """A new path of this process's; `remove` deletes it, what was made beside it with the same
    name (SQLite's `-wal` and `-shm`), and the lock."""

    def __init__(self, data_dir: Path, stem: str, suffix: str) -> None:
        folder = data_dir / "scratch"
        folder.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(folder)
        self.path = folder / f"{stem}-{uuid4().hex[:12]}{suffix}"
        self._lock = os.open(f"{self.path}{LOCK}", os.O_CREAT | os.O_WRONLY, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def remove(self) -> None:
        _remove_group(self.path)
        os.close(self._lock)


class KeptFile:
    """The file of a process of this name, kept after it ends for the next one (its read
    models' store: `infra.projection_runner` resumes from it). Raises BlockingIOError when a live
    process holds it: two replicas of one name on a data dir each need a scratch file."""

    def __init__(self, data_dir: Path, stem: str, suffix: str) -> None:
        folder = data_dir / "read-models"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{stem}{suffix}"
        self._lock = os.open(f"{self.path}{LOCK}", os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise

    def discard(self) -> None:
        """Removes the file and what was made beside it (a file SQLite cannot open), not the
        lock, which this process still holds."""
        for file in self.path.parent.glob(f"{self.path.name}*"):
            if not file.name.endswith(LOCK):
                file.unlink(missing_ok=True)

    def release(self) -> None:
        os.close(self._lock)


def _remove_abandoned(folder: Path) -> None:
    for lock in folder.glob(f"*{LOCK}"):
        try:
            fd = os.open(lock, os.O_WRONLY)
        except FileNotFoundError:  # removed meanwhile by its owner
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its owner lives
            continue
        else:
            _remove_group(Path(str(lock).removesuffix(LOCK)))
        finally:
            os.close(fd)


def _remove_group(path: Path) -> None:
    for file in path.parent.glob(f"{path.name}*"):
        file.unlink(missing_ok=True)
