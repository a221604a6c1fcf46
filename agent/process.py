"""A job's command: `/bin/sh -c` in a session (and process group) of its own, output read in lines.

Stopping signals the whole group: SIGTERM, up to `grace_s` for the group to leave, then SIGKILL,
so nothing the command started outlives it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from infra.lifeline import lifeline

READ_BYTES = 65_536
GROUP_POLL_S = 0.05


def exit_status(returncode: int) -> int:
    """The shell's convention: a death by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class ShellProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls, command: str, cwd: Path, env: Mapping[str, str]) -> ShellProcess:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            preexec_fn=lifeline(),  # the job's shell does not outlive a killed agent
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stderr(self) -> asyncio.StreamReader:
        assert self.proc.stderr is not None
        return self.proc.stderr

    async def wait(self) -> int:
        return await self.proc.wait()

    def signal_group(self, sig: int) -> bool:
        """Send `sig` to every process of the group (0 only asks); False when none is left."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:  # only zombies left on some systems
            return False
        return True

    async def stop(self, grace_s: float) -> int:
        """SIGTERM the group, SIGKILL what is left after `grace_s`; the shell's return code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), grace_s)
        await self._group_gone(deadline)  # the shell is gone; its children may still clean up
        self.signal_group(signal.SIGKILL)
        return await self.proc.wait()

    async def _group_gone(self, deadline: float) -> None:
        """Until no process of the group is left, or `deadline` (a loop time) passes."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            if not self._group_running():
                return
            await asyncio.sleep(GROUP_POLL_S)

    def _group_running(self) -> bool:
        """Whether a process of the group still runs. Zombies do not count: an orphan is reaped
        by PID 1, late or (in a container without an init) never."""
        if not self.signal_group(0):
            return False
        for proc in psutil.process_iter(["status"]):
            with contextlib.suppress(psutil.Error, OSError):
                if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == self.pid:
                    return True
        return False


def split_lines(text: str, max_text: int) -> tuple[list[str], str]:
    """Whole lines with their newline (longer ones cut at `max_text`), and the unfinished rest."""
    *lines, rest = text.split("\n")
    out: list[str] = []
    for line in lines:
        out.extend(cut(line + "\n", max_text))
    while len(rest) >= max_text:
        out.append(rest[:max_text])
        rest = rest[max_text:]
    return out, rest


def cut(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def pump(reader: asyncio.StreamReader, emit: Callable[[str], None], max_text: int) -> None:
    """Read until end of file, passing each line (UTF-8, undecodable bytes replaced) to `emit`."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    rest = ""
    while data := await reader.read(READ_BYTES):
        lines, rest = split_lines(rest + decoder.decode(data), max_text)
        for line in lines:
            emit(line)
    rest += decoder.decode(b"", final=True)
    for piece in cut(rest, max_text):
        emit(piece)
