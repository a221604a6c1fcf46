"""One claimed job, from `start` to its report.

The command runs while a heartbeat extends the lease. What ends it decides the report:

* it exits: `complete` with its exit code (0 success, anything else failed), or `fail` as
  retryable when the job's retry rule covers the exit code (the API queues it again while the
  rule allows, and ends it failed after that);
* its `timeout_s` passes: stopped, then `complete` with status timeout;
* the job was cancelled (the lease heartbeat or the agent's heartbeat says so): stopped, nothing
  more is reported, the job is already finished;
* the lease is lost (409 on any lease call): stopped, nothing more is reported;
* the agent shuts down: stopped, then `release`, so another agent runs it without an attempt spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agent.api import AgentApi, ClaimedJob, LeaseLostError, TransientError
from agent.logs import LogShipper
from agent.process import ShellProcess, exit_status, pump
from client import ApiError
from domain.job_status import JobStatus
from wire.logs import MAX_TEXT

log = logging.getLogger(__name__)
DRAIN_OUTPUT_S = 5.0
"""After the shell exits, how long its output may take to reach end of file; a background child
still holding the pipes is killed after that."""
SPAWN_FAILED = 127


class Stop(StrEnum):
    CANCELLED = "cancelled"
    LEASE_LOST = "lease lost"
    SHUTDOWN = "agent shutting down"


@dataclass(frozen=True)
class RunSettings:
    grace_s: float
    work_dir: Path
    env: Mapping[str, str]
    """The environment jobs start from; the agent's own JETDECK_* settings are never in it."""


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stopped_by: Stop | None = None
    """None when the command ended on its own (or by its timeout)."""
    timed_out: bool = False
    error: str = ""


def job_environment(base: Mapping[str, str], job: ClaimedJob) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("JETDECK_")}
    env |= {"JETDECK_JOB_ID": job.job_id, "JETDECK_JOB_ATTEMPT": str(job.attempt), "CI": "true"}
    env |= {f"JETDECK_GIT_{k.upper()}": v for k, v in job.git.items()}
    return env


class JobRun:
    def __init__(self, api: AgentApi, job: ClaimedJob, settings: RunSettings) -> None:
        self.api = api
        self.job = job
        self.settings = settings
        self.stop_reason: Stop | None = None
        self._stopped = asyncio.Event()
        self._shipper = LogShipper(self._send_logs, lambda: self.stop(Stop.LEASE_LOST))

    @property
    def job_id(self) -> str:
        return self.job.job_id

    def stop(self, reason: Stop) -> None:
        """Stop the command (if it still runs) for `reason`; the first reason wins."""
        if self.stop_reason is None:
            log.info("job %s: stopping, %s", self.job_id, reason)
            self.stop_reason = reason
            self._stopped.set()

    async def run(self) -> None:
        if self.stop_reason is Stop.SHUTDOWN:  # claimed while the agent was stopping
            await self._release()
            return
        if not await self._start():
            return
        beats = asyncio.create_task(self._extend_lease())
        try:
            outcome = await self._execute()
            await self._report(outcome)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats

    # --- lease calls ----------------------------------------------------------------------

    async def _start(self) -> bool:
        try:
            await self.api.start(self.job)
        except LeaseLostError as exc:
            log.warning("job %s: lease lost before start: %s", self.job_id, exc)
            return False
        except (TransientError, ApiError) as exc:
            log.error("job %s: could not start: %s", self.job_id, exc)
            await self._release()
            return False
        log.info("job %s: started (attempt %d)", self.job_id, self.job.attempt)
        return True

    async def _extend_lease(self) -> None:
        while True:
            await asyncio.sleep(self.job.heartbeat_every_s)
            try:
                cancelled = await self.api.extend(self.job)
            except LeaseLostError:
                self.stop(Stop.LEASE_LOST)
                return
            except (TransientError, ApiError) as exc:
                log.warning("job %s: lease not extended: %s", self.job_id, exc)
                continue
            if cancelled:
                self.stop(Stop.CANCELLED)
                return

    async def _send_logs(self, chunks: list[dict[str, str]], offset: int) -> None:
        await self.api.write_logs(self.job, chunks, offset)

    async def _release(self) -> None:
        try:
            await self.api.release(self.job)
        except (TransientError, ApiError) as exc:
            log.warning("job %s: not released: %s", self.job_id, exc)
        else:
            log.info("job %s: released", self.job_id)

    # --- the command ----------------------------------------------------------------------

    async def _execute(self) -> Outcome:
        work_dir = Path(
            tempfile.mkdtemp(prefix=f"jetdeck-{self.job_id}-", dir=self.settings.work_dir)
        )
        self._shipper.start()
        try:
            return await self._run_command(work_dir)
        finally:
            await self._shipper.close()
            shutil.rmtree(work_dir, ignore_errors=True)

    async def _run_command(self, work_dir: Path) -> Outcome:
        env = job_environment(self.settings.env, self.job)
        try:
            proc = await ShellProcess.spawn(self.job.command, work_dir, env)
        except OSError as exc:
            self._note(f"could not run the command: {exc}")
            return Outcome(SPAWN_FAILED, error=str(exc))
        pumps = [
            asyncio.create_task(pump(proc.stdout, self._output("stdout"), MAX_TEXT)),
            asyncio.create_task(pump(proc.stderr, self._output("stderr"), MAX_TEXT)),
        ]
        outcome = await self._supervise(proc)
        await self._drain(proc, pumps)
        return outcome

    def _output(self, stream: str) -> Callable[[str], None]:
        return functools.partial(self._shipper.add, stream)

    def _note(self, text: str) -> None:
        """A line of the agent's own in the job's log."""
        self._shipper.add("stderr", f"[jetdeck-agent] {text}\n")

    async def _supervise(self, proc: ShellProcess) -> Outcome:
        exited = asyncio.ensure_future(proc.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait(
                {exited, stopped}, timeout=self.job.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopped.cancel()
        if exited.done():
            return Outcome(exit_status(exited.result()))
        reason = self.stop_reason
        why = f"timed out after {self.job.timeout_s:g}s" if reason is None else str(reason)
        self._note(f"{why}: SIGTERM, then SIGKILL after {self.settings.grace_s:g}s")
        code = exit_status(await proc.stop(self.settings.grace_s))
        return Outcome(code, stopped_by=reason, timed_out=reason is None)

    async def _drain(self, proc: ShellProcess, pumps: list[asyncio.Task[None]]) -> None:
        """Let the output reach end of file; kill whatever of the group still holds the pipes."""
        _, pending = await asyncio.wait(pumps, timeout=DRAIN_OUTPUT_S)
        if pending:
            self._note("background processes still held the output open; killed them")
            await proc.stop(0)
            _, pending = await asyncio.wait(pending, timeout=DRAIN_OUTPUT_S)
        for task in pending:
            task.cancel()

    # --- the report -----------------------------------------------------------------------

    async def _report(self, outcome: Outcome) -> None:
        if outcome.stopped_by is Stop.SHUTDOWN:
            await self._release()
            return
        if outcome.stopped_by is not None or self._shipper.lost:
            log.info("job %s: %s; nothing more to report", self.job_id, self.stop_reason)
            return
        status, summary = _verdict(outcome, self.job.timeout_s)
        code = outcome.exit_code
        if status is None and code in self.job.retry_exit_codes:
            report = self.api.fail(self.job, code, summary)
        else:
            report = self.api.complete(self.job, code, summary, status)
        try:
            await report
        except LeaseLostError as exc:
            log.warning("job %s: lease lost before the report: %s", self.job_id, exc)
        except (TransientError, ApiError) as exc:
            log.error("job %s: outcome not reported: %s", self.job_id, exc)
        else:
            log.info("job %s: %s", self.job_id, summary)


def _verdict(outcome: Outcome, timeout_s: float) -> tuple[JobStatus | None, str]:
    """The status to report (None lets the exit code decide) and a summary."""
    if outcome.error:
        return JobStatus.ERROR, f"could not run the command: {outcome.error}"
    if outcome.timed_out:
        return JobStatus.TIMEOUT, f"timed out after {timeout_s:g}s"
    return None, f"exited with {outcome.exit_code}"
