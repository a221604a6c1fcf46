"""The agent's run directories: a sweep removes only those whose run is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.workdir import PREFIX, run_directory, sweep

DIES_HOLDING_ITS_DIRECTORY = """
import os, sys
from pathlib import Path
from agent.workdir import run_directory
with run_directory(Path(sys.argv[1])) as path:
    (path / "job").mkdir()
    print(path, flush=True)
    os._exit(9)  # killed: no cleanup runs
"""


def crashed_run(parent: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", DIES_HOLDING_ITS_DIRECTORY, str(parent)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 9, done.stderr
    return Path(done.stdout.strip())


def test_a_run_removes_its_directory_when_it_ends(tmp_path: Path) -> None:
    with run_directory(tmp_path) as path:
        assert path.is_dir()
        assert path.name.startswith(PREFIX)
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_removes_what_a_dead_run_left_and_spares_a_live_one(tmp_path: Path) -> None:
    dead = crashed_run(tmp_path)
    assert (dead / "job").is_dir()
    unrelated = tmp_path / "agent.log"
    unrelated.write_text("kept")
    with run_directory(tmp_path) as live:
        assert not dead.exists()
        assert sweep(tmp_path) == []  # its own lock is held: another agent leaves it alone
        assert live.is_dir()
    assert unrelated.read_text() == "kept"
