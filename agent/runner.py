"""The reference build agent: `python -m agent --registration-token ... [--slots N]`.

It registers (the registration token is used once; later calls carry the agent token), then
heartbeats with its host's load and runs up to `--slots` jobs at once: one claim at a time asks
its pool for as many jobs as slots are free; each job's command runs with `/bin/sh -c` (see
`agent.job`) and is reported, and its slot is free again.
Every call goes through the client (`client.AsyncJetDeck`).

* A heartbeat's `drain` instruction stops the claiming; the agent exits once its jobs are done.
  `cancel` stops that job at once (SIGTERM to its process group, SIGKILL after `--grace-s`).
* SIGTERM or SIGINT stops the claiming too. Running jobs get `--shutdown-grace-s` to finish; then
  they are stopped and released, so another agent runs them without an attempt spent. A second
  signal does that at once.
* Once its jobs are done, an agent that stops (signal or drain) deregisters: it ends
  `terminated` at once instead of looking healthy until its heartbeats expire.
* Jobs run in a directory of this run's own under `--work-dir`, removed at exit; one that a
  killed run left behind is removed when the next agent starts there (`agent.workdir`).

Every flag falls back to a JETDECK_AGENT_* variable (`agent.config`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from agent.api import RETRY, AgentApi, AuthError, ClaimedJob, Instruction, TransientError
from agent.config import AgentConfig, parse_args
from agent.host import host_info, load, start_cpu_sampling
from agent.job import JobRun, RunSettings, Stop
from agent.workdir import run_directory
from client import ApiError, AsyncJetDeck

log = logging.getLogger("jetdeck.agent")
RETRY_MAX_S = 30.0


def _version() -> str:
    try:
        return metadata.version("jetdeck")
    except metadata.PackageNotFoundError:
        return "unknown"


class Agent:
    def __init__(self, config: AgentConfig, api: AgentApi, work_dir: Path) -> None:
        self.config = config
        self.api = api
        self.runs: dict[str, JobRun] = {}
        self.claiming = True
        self.interval_s = config.heartbeat_s
        self.exit_code = 0
        self._registration: str | None = None
        self._shutting_down = False
        self._stopping = asyncio.Event()
        """Set when the claiming stops, so waits between retries end early."""
        self._settings = RunSettings(config.grace_s, work_dir, dict(os.environ))

    async def run(self) -> int:
        """Register, work until drained or stopped, deregister; the process's exit code."""
        if not await self._register():
            return 0 if self._shutting_down else 1
        start_cpu_sampling()
        await self._beat()  # a registered agent gets work once it has reported its load
        beats = asyncio.create_task(self._heartbeats())
        try:
            await self._claim_for_free_slots()
        finally:
            beats.cancel()
        if self.exit_code == 0:  # else the API no longer accepts this agent anyway
            await self._deregister()
        log.info("agent %s: no jobs left; exiting", self.api.agent_id)
        return self.exit_code

    # --- registration and heartbeats ------------------------------------------------------

    async def _register(self) -> bool:
        config, host, version = self.config, host_info(), _version()
        pause = 1.0
        while self.claiming:
            try:
                found = await self.api.register(
                    await self._registration_credential(),
                    config.name,
                    host,
                    pool=config.pool,
                    labels=config.labels,
                    version=version,
                    slots=config.slots,
                )
            except TransientError as exc:
                log.warning("registration: %s; trying again in %gs", exc, pause)
                await self._idle(pause)
                pause = min(2 * pause, RETRY_MAX_S)
                continue
            except ApiError as exc:
                log.error("registration refused: %s", exc)
                return False
            self.interval_s = found.heartbeat_interval_s or self.config.heartbeat_s
            log.info("registered as agent %s in pool %s", found.agent_id, self.config.pool)
            return True
        return False

    async def _registration_credential(self) -> str:
        """The registration token, or a registration exchanged for the OIDC token once: an OIDC
        token is accepted once, so a retried registration reuses what the exchange gave."""
        if self.config.id_token_file is None:
            return self.config.registration_token
        if self._registration is None:
            try:
                id_token = self.config.id_token_file.read_text().strip()
            except OSError as exc:
                raise TransientError(f"reading {self.config.id_token_file}: {exc}") from exc
            self._registration = await self.api.exchange(id_token)
        return self._registration

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self._beat()

    async def _beat(self) -> None:
        metrics = load(self.config.work_dir)
        try:
            instructions = await self.api.heartbeat(metrics, list(self.runs))
        except AuthError as exc:
            self._distrusted(exc)
            return
        except (TransientError, ApiError) as exc:
            log.warning("heartbeat: %s", exc)
            return
        for instruction in instructions:
            self._obey(instruction)

    async def _deregister(self) -> None:
        reason = "agent stopped" if self._shutting_down else "agent drained and stopped"
        try:
            await self.api.deregister(reason)
        except AuthError:
            log.info("agent %s: already deregistered", self.api.agent_id)
        except (TransientError, ApiError) as exc:
            log.warning("agent %s: not deregistered (%s); it goes offline", self.api.agent_id, exc)
        else:
            log.info("agent %s: deregistered", self.api.agent_id)

    def _obey(self, instruction: Instruction) -> None:
        if instruction.action == "drain":
            if self.claiming:
                log.info("drain: no new jobs; exiting once %d running end", len(self.runs))
            self._stop_claiming()
        elif instruction.action == "cancel" and instruction.job_id in self.runs:
            self.runs[instruction.job_id].stop(Stop.CANCELLED)
        else:
            log.warning("ignoring instruction %s", instruction)

    # --- slots ----------------------------------------------------------------------------

    async def _claim_for_free_slots(self) -> None:
        """One claim at a time, for as many jobs as slots are free: it waits for the first job,
        and takes the others only if they are there at once. Each job runs as a task; a full
        agent waits for one to end before it claims again."""
        running: set[asyncio.Task[None]] = set()
        pause = 1.0
        while self.claiming:
            _reap(running)
            free = self.config.slots - len(running)
            if free == 0:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                jobs = await self.api.claim(
                    self.config.pool, self.config.labels, self.config.claim_wait_s, free
                )
            except AuthError as exc:
                self._distrusted(exc)
                break
            except (TransientError, ApiError) as exc:
                log.warning("claim failed: %s; again in %gs", exc, pause)
                await self._idle(pause)
                pause = min(2 * pause, RETRY_MAX_S)
                continue
            pause = 1.0
            if jobs:
                log.info("claimed %d job(s) for %d free slot(s)", len(jobs), free)
            running.update(asyncio.create_task(self._run(job)) for job in jobs)
        await asyncio.gather(*running)

    async def _run(self, job: ClaimedJob) -> None:
        run = JobRun(self.api, job, self._settings)
        if not self.claiming and self._shutting_down:
            run.stop(Stop.SHUTDOWN)  # the claim was on its way when the agent began to stop
        self.runs[job.job_id] = run
        log.info("job %s: claimed (attempt %d): %s", job.job_id, job.attempt, job.command[:200])
        try:
            await run.run()
        finally:
            del self.runs[job.job_id]

    # --- stopping -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: stop claiming and give running jobs the shutdown grace. Second: stop now."""
        loop = asyncio.get_running_loop()
        if self._shutting_down:
            log.info("stopping now: %d running jobs will be released", len(self.runs))
            self._abandon_all()
            return
        self._shutting_down = True
        self._stop_claiming()
        grace = self.config.shutdown_grace_s
        log.info("stopping: no new jobs; %d running get %gs to finish", len(self.runs), grace)
        loop.call_later(grace, self._abandon_all)

    def _stop_claiming(self) -> None:
        self.claiming = False
        self._stopping.set()

    def _distrusted(self, exc: Exception) -> None:
        """The API refuses this agent's token (deregistered?): take no more work."""
        if self.claiming:
            log.error("the API no longer accepts this agent (%s); exiting once jobs end", exc)
        self.exit_code = 1
        self._stop_claiming()

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _abandon_all(self) -> None:
        for run in self.runs.values():
            run.stop(Stop.SHUTDOWN)


def _reap(running: set[asyncio.Task[None]]) -> None:
    """Drop the finished jobs' tasks; one that failed raises here: a job that could not be run
    and reported is a bug of the agent's, and ends it."""
    for task in [t for t in running if t.done()]:
        running.discard(task)
        task.result()


async def serve(config: AgentConfig) -> int:
    with run_directory(config.work_dir) as work_dir:
        return await _serve(config, work_dir)


async def _serve(config: AgentConfig, work_dir: Path) -> int:
    async with AsyncJetDeck(config.api, retry=RETRY) as client:
        agent = Agent(config, AgentApi(client), work_dir)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.request_stop)
        return await agent.run()


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if config.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    return asyncio.run(serve(config))
