"""The agent's calls, through the client: registration, heartbeats, claims, lease calls and logs.

The client retries 503s and lost connections with one idempotency key. What it still raises
becomes one of three errors here, so callers decide with `except`, not status codes:
`TransientError` (retry later), `AuthError` (the API no longer trusts this agent) and
`LeaseLostError` (a lease call refused: stop the job, report nothing more); any other refusal
stays the client's `ApiError`, of which the latter two are kinds.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from agent.host import Load
from client import ApiError, AsyncJetDeck, RetryPolicy, UnreachableError
from domain.agent import HostInfo
from domain.job_reports import CompletionReport, FailureReport
from domain.job_status import JobStatus
from wire.queue import ClaimAnswer

T = TypeVar("T")
RETRY = RetryPolicy(attempts=6, base_s=0.5)
"""About 15 s of attempts before a call gives up, so a short API outage loses no report."""
LEASE_LOST = frozenset({403, 404, 409})
"""On a lease call: another job's token, a job gone, or an attempt that lost its lease."""
MAX_TEXT = 10_000
"""The API's limit on a summary, an error or a reason."""


class AuthError(ApiError):
    """401: the token is not (or no longer) accepted."""


class LeaseLostError(ApiError):
    """The job's lease is not ours any more."""


class TransientError(Exception):
    """The API could not answer now (unreachable, 5xx, 429); the same call may work later."""


@dataclass(frozen=True)
class Registration:
    agent_id: str
    token: str
    heartbeat_interval_s: float | None


@dataclass(frozen=True)
class Instruction:
    action: str
    job_id: str | None = None


@dataclass(frozen=True)
class ClaimedJob:
    job_id: str
    command: str
    timeout_s: float
    attempt: int
    claim_token: str
    heartbeat_every_s: float
    git: dict[str, str] = field(default_factory=dict)
    retry_exit_codes: frozenset[int] = frozenset()
    """Exit codes the job's retry rule covers: reported as retryable failures."""
    claim_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Ours alone: names this claim in Idempotency-Keys (attempt numbers repeat after a release)."""

    @classmethod
    def from_answer(cls, answer: ClaimAnswer) -> ClaimedJob:
        job = answer.job
        return cls(
            job_id=str(job.job_id),
            command=job.command,
            timeout_s=job.timeout_s,
            attempt=job.attempt,
            claim_token=answer.claim_token,
            heartbeat_every_s=answer.heartbeat_every_s,
            git=job.git,
            retry_exit_codes=frozenset(job.retry.exit_codes if job.retry else ()),
        )

    def key(self, action: str) -> str:
        return f"{self.claim_id}-{action}"


async def answer(pending: Awaitable[T], lease: bool = False) -> T:
    """What `pending` (a client call) answers, or the error above that its failure means."""
    try:
        return await pending
    except UnreachableError as exc:
        raise TransientError(str(exc)) from exc
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 429:
            raise TransientError(str(exc)) from exc
        if exc.status == 401:
            raise AuthError(exc.status, exc.error, exc.detail, exc.problem) from exc
        if lease and exc.status in LEASE_LOST:
            raise LeaseLostError(exc.status, exc.error, exc.detail, exc.problem) from exc
        raise


class AgentApi:
    def __init__(self, client: AsyncJetDeck) -> None:
        self.client = client
        self.agent_id = ""
        self._registration_key = f"register-{uuid.uuid4().hex}"

    # --- the agent ------------------------------------------------------------------------

    async def exchange(self, id_token: str) -> str:
        """A short-lived registration for this OIDC token (RFC 8693 token exchange)."""
        return (await answer(self.client.exchange_id_token(id_token))).access_token

    async def register(
        self,
        credential: str,
        name: str,
        host: HostInfo,
        *,
        pool: str = "default",
        labels: Iterable[str] = (),
        version: str = "unknown",
        slots: int = 1,
    ) -> Registration:
        """Retries carry the same key, so a registration whose answer was lost is not made
        twice. Later calls carry the agent token it answers."""
        self.client.set_token(credential)
        registered = await answer(
            self.client.register_agent(
                name, host, pool, labels, version, slots, idempotency_key=self._registration_key
            )
        )
        self.agent_id, token = str(registered.value.agent_id), registered.value.agent_token
        self.client.set_token(token)
        return Registration(self.agent_id, token, registered.value.heartbeat_interval_s)

    async def heartbeat(self, load: Load, running_jobs: Iterable[str]) -> list[Instruction]:
        call = self.client.agent_heartbeat(
            self.agent_id, load.cpu_pct, load.mem_pct, load.disk_pct, running_jobs
        )
        found = await answer(call)
        self.client.set_token(found.agent_token)  # tokens expire; each beat hands out a fresh one
        return [Instruction(i.action, i.job_id) for i in found.instructions]

    async def deregister(self, reason: str) -> None:
        """Leave for good: the API ends this agent's token and releases what it still holds."""
        key = f"deregister-{self.agent_id}"
        await answer(
            self.client.deregister_agent(self.agent_id, reason[:MAX_TEXT], idempotency_key=key)
        )

    async def claim(
        self, pool: str, labels: Iterable[str], wait_s: float, max_jobs: int
    ) -> list[ClaimedJob]:
        """Up to `max_jobs` jobs in one call: it waits up to `wait_s` for the first."""
        call = self.client.claim_jobs(self.agent_id, max_jobs, pool, labels, wait_s)
        found = await answer(call)
        return [ClaimedJob.from_answer(claim) for claim in found.claims]

    # --- one claimed job ------------------------------------------------------------------

    async def start(self, job: ClaimedJob) -> None:
        call = self.client.start_claimed(
            job.job_id, job.claim_token, idempotency_key=job.key("start")
        )
        await answer(call, lease=True)

    async def extend(self, job: ClaimedJob) -> bool:
        """Extend the lease; True when the job was cancelled meanwhile."""
        found = await answer(self.client.lease_heartbeat(job.job_id, job.claim_token), lease=True)
        return found.cancelled

    async def write_logs(self, job: ClaimedJob, chunks: list[dict[str, str]], offset: int) -> None:
        call = self.client.write_logs(job.job_id, job.claim_token, chunks, offset)
        await answer(call, lease=True)

    async def complete(
        self, job: ClaimedJob, exit_code: int, summary: str, status: JobStatus | None
    ) -> None:
        report = CompletionReport(exit_code=exit_code, summary=summary[:MAX_TEXT], status=status)
        call = self.client.complete_claimed(
            job.job_id, job.claim_token, report, idempotency_key=job.key("complete")
        )
        await answer(call, lease=True)

    async def fail(self, job: ClaimedJob, exit_code: int, error: str) -> None:
        """A failure another attempt may cure: the API queues the job again while its retry
        rule allows, else ends it failed."""
        report = FailureReport(error=error[:MAX_TEXT], exit_code=exit_code, retryable=True)
        call = self.client.fail_claimed(
            job.job_id, job.claim_token, report, idempotency_key=job.key("fail")
        )
        await answer(call, lease=True)

    async def release(self, job: ClaimedJob) -> None:
        call = self.client.release(job.job_id, job.claim_token, idempotency_key=job.key("release"))
        await answer(call, lease=True)
