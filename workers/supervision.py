"""Worker processes kept running: restarted with backoff when they exit unexpectedly, given up on
when they crash-loop, and never outliving the supervisor."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.errors import JetDeckError
from infra.lifeline import lifeline

log = logging.getLogger("jetdeck.supervisor")


class CrashLoopError(JetDeckError):
    def __init__(self, module: str, exits: int, window_s: float, code: int) -> None:
        super().__init__(
            f"worker {module} exited {exits} times in {window_s:.0f} s (last with {code}); "
            "giving up"
        )


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    max_exits: int = 5
    """This many exits within `window_s` is a crash loop."""
    window_s: float = 60.0

    def delay(self, recent_exits: int) -> float:
        """Doubling with each recent exit: a worker that crashed once comes back at once."""
        return min(self.first_delay_s * 2.0 ** (recent_exits - 1), self.max_delay_s)


Exited = Callable[[str, int], Awaitable[None]]
"""Told the module and the pid of a worker process that ended on its own."""


class Supervised:
    """`python -m <module>`, restarted until `stop`; `run` raises CrashLoopError."""

    def __init__(
        self, module: str, env: dict[str, str], policy: RestartPolicy, exited: Exited
    ) -> None:
        self.module = module
        self.env = env
        self.policy = policy
        self.exited = exited
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        exits: deque[float] = deque()
        while not self._stopping:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
                preexec_fn=lifeline(),
            )
            if self._stopping:  # `stop` came while this one was being started
                await self._end(self.process)
                return
            code = await self.process.wait()
            if self._stopping:
                return
            await self.exited(self.module, self.process.pid)
            now = loop.time()
            exits.append(now)
            while exits and exits[0] < now - self.policy.window_s:
                exits.popleft()
            if len(exits) >= self.policy.max_exits:
                raise CrashLoopError(self.module, len(exits), self.policy.window_s, code)
            delay = self.policy.delay(len(exits))
            log.error("worker %s exited with %d; restarting in %.1f s", self.module, code, delay)
            self.restarts += 1
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._stopping = True
        if self.process is not None:
            await self._end(self.process)

    @staticmethod
    async def _end(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
