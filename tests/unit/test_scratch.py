"""Scratch files go with their owner: removed at close, or by the next owner once the first was
killed, never while their owner lives."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra.scratch import KeptFile, ScratchFile

MAKE_AND_WAIT = """
import sys, time
from pathlib import Path
import pytest

from infra.scratch import KeptFile, ScratchFile
scratch = ScratchFile(Path(sys.argv[1]), "owner", ".sqlite3")
scratch.path.write_text("rows")
Path(f"{scratch.path}-wal").write_text("wal")
print(scratch.path, flush=True)
time.sleep(600)
"""


def files(data_dir: Path) -> set[str]:
    return {path.name for path in (data_dir / "scratch").iterdir()}


def test_a_killed_owners_files_are_removed_by_the_next_owner(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", MAKE_AND_WAIT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    owned = Path(child.stdout.readline().strip())
    live = ScratchFile(tmp_path, "live", ".sqlite3")
    assert owned.exists(), "its owner still lives"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert {f"{owned.name}", f"{owned.name}-wal", f"{owned.name}.lock"} <= files(tmp_path)

    ScratchFile(tmp_path, "next", ".sqlite3").remove()

    assert not any(name.startswith(owned.name) for name in files(tmp_path))
    assert files(tmp_path) == {f"{live.path.name}.lock"}


def test_remove_deletes_the_file_what_was_made_beside_it_and_the_lock(tmp_path: Path) -> None:
    scratch = ScratchFile(tmp_path, "mine", ".sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scratch.path}{suffix}").write_text("x")
    scratch.remove()
    assert files(tmp_path) == set()


def test_an_owner_in_this_process_keeps_its_files_while_another_is_made(tmp_path: Path) -> None:
    mine = ScratchFile(tmp_path, "mine", ".sqlite3")
    mine.path.write_text("rows")
    ScratchFile(tmp_path, "other", ".sqlite3").remove()
    assert mine.path.read_text() == "rows"
    mine.remove()


KEEP_AND_WAIT = """
import sys, time
from pathlib import Path
from infra.scratch import KeptFile
kept = KeptFile(Path(sys.argv[1]), "api", ".sqlite3")
kept.path.write_text("rows")
print(kept.path, flush=True)
time.sleep(600)
"""


def test_a_kept_file_is_held_while_its_owner_lives_and_outlives_it(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KEEP_AND_WAIT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    kept = Path(child.stdout.readline().strip())
    try:
        with pytest.raises(BlockingIOError):
            KeptFile(tmp_path, "api", ".sqlite3")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    mine = KeptFile(tmp_path, "api", ".sqlite3")
    assert mine.path == kept
    assert kept.read_text() == "rows"
    mine.release()
    assert kept.exists()
