"""Turn this process's state into bytes in a forked child while the parent goes on.

A picture of the read models at 200,000 events is about a second of CPU (walk the rows, write
JSON, compress). On the event loop that second stalls the replay and every request. `fork`
freezes the state at this instant for nothing (copy on write), as Redis's BGSAVE does, and the
child does the work on another core. The child runs plain Python code on its own copy, takes no
lock another thread could hold (logging and the import lock are reset at fork), touches no
socket, and leaves with `os._exit`, so it flushes no buffer and runs no handler of the parent's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from typing import NoReturn

from domain.errors import UnavailableError
from infra.lifeline import die_with_parent

DEADLINE_S = 300.0
"""A child still at work after this is killed: a stuck one must not hold the next snapshot,
and with it the replay, for good."""


class Forked:
    """`work` run now, in a child, on the state as it is at this call.

    The child writes its result to a file, not to the pipe, which only tells the parent it has
    ended (its end closes when the child exits): through a pipe the child stalled as soon as
    the pipe's buffer was full, until the parent's event loop came round to read it, and a
    busy replay came round to it late (docs/architecture.md, Time travel)."""

    def __init__(self, work: Callable[[], bytes], deadline_s: float = DEADLINE_S) -> None:
        self.deadline_s = deadline_s
        self._result = tempfile.TemporaryFile()  # noqa: SIM115 - `result` reads and closes it
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        with warnings.catch_warnings():
            # Python 3.12+ warns on fork in a process with threads; the child above needs none.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(work, self._result.fileno(), parent)
        os.close(write_fd)
        self.pid = pid
        self._ended = os.fdopen(read_fd, "rb", buffering=0)

    async def result(self) -> bytes:
        """What `work` returned; UnavailableError if the child failed or died."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), self._ended
        )
        try:
            await asyncio.wait_for(reader.read(), self.deadline_s)
        except BaseException:  # the deadline, or the caller gave up
            os.kill(self.pid, signal.SIGKILL)
            raise
        finally:
            transport.close()
            code = self._reap()
        with self._result:
            if code != 0:
                raise UnavailableError(f"a forked child ({self.pid}) ended with {code}")
            self._result.seek(0)
            return self._result.read()

    def _reap(self) -> int:
        # The pipe closes as the child exits: this wait is short.
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


def _child(work: Callable[[], bytes], result_fd: int, parent: int) -> NoReturn:
    code = 1
    try:
        die_with_parent(parent)
        data = work()
        with open(result_fd, "wb", closefd=False) as out:
            out.write(data)
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)
