"""The agent's side of the HTTP API: registration, heartbeats, claims, lease calls and logs.

Answers become values or one of four errors, so callers decide with `except`, not status codes:
`TransientError` (retry later), `AuthError` (the API no longer trusts this agent),
`LeaseLostError` (a lease call refused: stop the job, report nothing more) and `ApiError`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx

log = logging.getLogger(__name__)
T = TypeVar("T")
LEASE_LOST = frozenset({403, 404, 409})
"""On a lease call: another job's token, a job gone, or an attempt that lost its lease."""


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status


class AuthError(ApiError):
    """401: the token is not (or no longer) accepted."""


class LeaseLostError(ApiError):
    """The job's lease is not ours any more."""


class TransientError(Exception):
    """The API could not answer now (network, 5xx, 429); the same call may work later."""


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
    def from_answer(cls, answer: dict[str, Any]) -> ClaimedJob:
        job = answer["job"]
        return cls(
            job_id=job["job_id"],
            command=job["command"],
            timeout_s=float(job["timeout_s"]),
            attempt=int(job["attempt"]),
            claim_token=answer["claim_token"],
            heartbeat_every_s=float(answer["heartbeat_every_s"]),
            git={k: str(v) for k, v in (job.get("git") or {}).items()},
            retry_exit_codes=frozenset((job.get("retry") or {}).get("exit_codes", ())),
        )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def _check(response: httpx.Response, lease: bool) -> httpx.Response:
    status = response.status_code
    if status < 400:
        return response
    if status >= 500 or status == 429:
        raise TransientError(f"{response.request.url.path}: {status} {_detail(response)}")
    if status == 401:
        raise AuthError(status, _detail(response))
    if lease and status in LEASE_LOST:
        raise LeaseLostError(status, _detail(response))
    raise ApiError(status, _detail(response))


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 6, first_s: float = 0.5) -> T:
    """`call`, again after TransientError with doubling pauses; the last error is raised."""
    for attempt in range(attempts):
        try:
            return await call()
        except TransientError as exc:
            if attempt == attempts - 1:
                raise
            log.warning("%s; trying again", exc)
            await asyncio.sleep(first_s * 2**attempt)
    raise AssertionError("unreachable")


class AgentApi:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(base_url=base_url, timeout=30.0)
        self.agent_id = ""
        self._auth: dict[str, str] = {}
        self._registration_key = f"register-{uuid.uuid4().hex}"

    async def __aenter__(self) -> AgentApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    async def _post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        lease: bool = False,
        key: str | None = None,
        timeout_s: float | None = None,
        auth: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = dict(self._auth if auth is None else auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s
        try:
            response = await self.client.post(path, json=body, headers=headers, timeout=timeout)
        except httpx.TransportError as exc:
            raise TransientError(f"{path}: {exc!r}") from exc
        return _check(response, lease)

    # --- the agent ------------------------------------------------------------------------

    async def exchange(self, id_token: str) -> str:
        """A short-lived registration for this OIDC token (RFC 8693 token exchange)."""
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": id_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        }
        try:
            response = await self.client.post("/api/auth/token", data=form)
        except httpx.TransportError as exc:
            raise TransientError(f"/api/auth/token: {exc!r}") from exc
        token: str = _check(response, lease=False).json()["access_token"]
        return token

    async def register(self, registration_token: str, body: dict[str, Any]) -> Registration:
        """Retries carry the same key, so a registration whose answer was lost is not made
        twice."""
        auth = {"Authorization": f"Bearer {registration_token}"}
        path, key = "/api/agents/register", self._registration_key
        answer = (await self._post(path, body, auth=auth, key=key)).json()
        self.agent_id = str(answer["agent_id"])
        self._auth = {"Authorization": f"Bearer {answer['agent_token']}"}
        interval = answer.get("heartbeat_interval_s")
        return Registration(
            self.agent_id, answer["agent_token"], float(interval) if interval else None
        )

    async def heartbeat(
        self, metrics: dict[str, float], running_jobs: list[str]
    ) -> list[Instruction]:
        body = dict(metrics) | {"running_jobs": running_jobs}
        answer = (await self._post(f"/api/agents/{self.agent_id}/heartbeat", body)).json()
        if renewed := answer.get("agent_token"):  # tokens expire; each beat hands out a fresh one
            self._auth = {"Authorization": f"Bearer {renewed}"}
        return [
            Instruction(str(i["action"]), i.get("job_id")) for i in answer.get("instructions", [])
        ]

    async def deregister(self, reason: str) -> None:
        """Leave for good: the API ends this agent's token and releases what it still holds."""
        path, key = f"/api/agents/{self.agent_id}/deregister", f"deregister-{self.agent_id}"
        await self._post(path, {"reason": reason[:10_000]}, key=key)

    async def claim(self, pool: str, labels: list[str], wait_s: float) -> ClaimedJob | None:
        body = {"agent_id": self.agent_id, "pool": pool, "labels": labels, "wait_s": wait_s}
        response = await self._post("/api/queue/claim", body, timeout_s=wait_s + 30)
        if response.status_code == 204:
            return None
        return ClaimedJob.from_answer(response.json())

    # --- one claimed job ------------------------------------------------------------------

    def _lease_path(self, job: ClaimedJob, action: str) -> str:
        return f"/api/queue/jobs/{job.job_id}/{action}"

    async def _lease_call(
        self, job: ClaimedJob, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        full = {"claim_token": job.claim_token} | (body or {})
        key = f"{job.claim_id}-{action}"
        return await self._post(self._lease_path(job, action), full, lease=True, key=key)

    async def start(self, job: ClaimedJob) -> None:
        await self._lease_call(job, "start")

    async def extend(self, job: ClaimedJob) -> bool:
        """Extend the lease; True when the job was cancelled meanwhile."""
        path = self._lease_path(job, "heartbeat")
        response = await self._post(path, {"claim_token": job.claim_token}, lease=True)
        return bool(response.json().get("cancelled", False))

    async def write_logs(self, job: ClaimedJob, chunks: list[dict[str, str]], offset: int) -> None:
        body = {"claim_token": job.claim_token, "chunks": chunks, "offset": offset}
        await self._post(self._lease_path(job, "logs"), body, lease=True)

    async def complete(
        self, job: ClaimedJob, exit_code: int, summary: str = "", status: str | None = None
    ) -> None:
        body: dict[str, Any] = {"exit_code": exit_code, "summary": summary[:10_000]}
        if status is not None:
            body["status"] = status
        await self._lease_call(job, "complete", body)

    async def fail(self, job: ClaimedJob, exit_code: int, error: str) -> None:
        """A failure another attempt may cure: the API queues the job again while its retry
        rule allows, else ends it failed."""
        body = {"exit_code": exit_code, "error": error[:10_000], "retryable": True}
        await self._lease_call(job, "fail", body)

    async def release(self, job: ClaimedJob) -> None:
        await self._lease_call(job, "release")
