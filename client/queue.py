"""The job queue and the agents that work it: enqueue, claim, lease calls, registration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import httpx

from client._http import Call
from client._ops import Op
from client.models import Json, Receipt, json, receipt
from client.reporting import git_fields
from domain.agent import HostInfo
from domain.job import CompletionReport, FailureReport
from domain.queue import QueueSpec
from domain.values import GitContext

QUEUE = "/api/queue"
AGENTS = "/api/agents"
CLAIM_SLACK_S = 30.0
"""A claim may hold its request for `wait_s`; its answer gets this long beyond that."""
TOKEN_EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
}


def _spec(spec: QueueSpec | None) -> dict[str, Any]:
    return {} if spec is None else spec.model_dump(mode="json", exclude_defaults=True)


def enqueue(
    job_type: str,
    git: GitContext,
    spec: QueueSpec | None = None,
    metadata: Mapping[str, str] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    """A new job, queued; the receipt's `existing` says a unique key found an earlier one."""
    body = {"job_type": job_type, **git_fields(git), "metadata": dict(metadata or {})}
    body |= _spec(spec)
    return Call("POST", f"{QUEUE}/jobs", receipt, body, idempotency_key=idempotency_key)


def queue_existing(
    job_id: UUID | str, spec: QueueSpec | None = None, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    """A pending job reported earlier, queued for agents."""
    body = {"job_id": str(job_id)} | _spec(spec)
    return Call("POST", f"{QUEUE}/jobs", receipt, body, idempotency_key=idempotency_key)


def _claimed(response: httpx.Response) -> Json | None:
    return None if response.status_code == httpx.codes.NO_CONTENT else json(response)


def claim(
    agent_id: str, pool: str = "default", labels: Iterable[str] = (), wait_s: float = 5.0
) -> Call[Json | None]:
    """Work for an agent (its token), or None when none came within `wait_s`."""
    body = {"agent_id": agent_id, "pool": pool, "labels": sorted(labels), "wait_s": wait_s}
    return Call("POST", f"{QUEUE}/claim", _claimed, body, timeout_s=wait_s + CLAIM_SLACK_S)


def _lease_call(
    action: str, job_id: UUID | str, claim_token: str, key: str | None, fields: Json | None = None
) -> Call[Receipt]:
    body = {"claim_token": claim_token, **(fields or {})}
    path = f"{QUEUE}/jobs/{job_id}/{action}"
    return Call("POST", path, receipt, body, idempotency_key=key)


def start_claimed(
    job_id: UUID | str, claim_token: str, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    return _lease_call("start", job_id, claim_token, idempotency_key)


def lease_heartbeat(job_id: UUID | str, claim_token: str) -> Call[Json]:
    """Renews the lease; the answer's `cancelled` tells the agent to stop."""
    body = {"claim_token": claim_token}
    return Call("POST", f"{QUEUE}/jobs/{job_id}/heartbeat", json, body)


def write_logs(
    job_id: UUID | str,
    claim_token: str,
    chunks: Iterable[Mapping[str, str]],
    offset: int | None = None,
) -> Call[Json]:
    """Appends `{stream, text}` chunks to the job's log; `offset`, the index of the first among
    all this claim sent, makes a resent batch stored once."""
    body = {"claim_token": claim_token, "chunks": [dict(c) for c in chunks], "offset": offset}
    return Call("POST", f"{QUEUE}/jobs/{job_id}/logs", json, body)


def complete_claimed(
    job_id: UUID | str,
    claim_token: str,
    report: CompletionReport,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    fields = report.model_dump(mode="json")
    return _lease_call("complete", job_id, claim_token, idempotency_key, fields)


def fail_claimed(
    job_id: UUID | str,
    claim_token: str,
    report: FailureReport,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    fields = report.model_dump(mode="json")
    return _lease_call("fail", job_id, claim_token, idempotency_key, fields)


def release(
    job_id: UUID | str, claim_token: str, *, idempotency_key: str | None = None
) -> Call[Receipt]:
    """Gives the job back without spending its attempt."""
    return _lease_call("release", job_id, claim_token, idempotency_key)


def cancel(job_id: UUID | str, reason: str = "") -> Call[Receipt]:
    return Call("POST", f"{QUEUE}/jobs/{job_id}/cancel", receipt, {"reason": reason})


def retry_dead_letter(job_id: UUID | str, reason: str = "") -> Call[Receipt]:
    path = f"{QUEUE}/dead-letters/{job_id}/retry"
    return Call("POST", path, receipt, {"reason": reason})


def pause_pool(pool: str, reason: str = "") -> Call[Json]:
    return Call("POST", f"{QUEUE}/pools/{pool}/pause", json, {"reason": reason})


def resume_pool(pool: str) -> Call[Json]:
    return Call("POST", f"{QUEUE}/pools/{pool}/resume", json)


def register_agent(
    name: str,
    host: HostInfo,
    pool: str = "default",
    labels: Iterable[str] = (),
    version: str = "unknown",
    slots: int = 1,
    *,
    idempotency_key: str | None = None,
) -> Call[Receipt]:
    """Needs the registration token; the receipt's `agent_token` authenticates the agent."""
    body: Json = {"name": name, "host": host.model_dump(), "pool": pool, "slots": slots}
    body |= {"labels": sorted(labels), "version": version}
    return Call("POST", f"{AGENTS}/register", receipt, body, idempotency_key=idempotency_key)


def _access_token(response: httpx.Response) -> str:
    return str(response.json()["access_token"])


def exchange_id_token(id_token: str) -> Call[str]:
    """A short-lived registration (the bearer token of `register_agent`) for a CI job's OIDC
    token, by RFC 8693 token exchange; needs no token of its own."""
    form = TOKEN_EXCHANGE | {"subject_token": id_token}
    return Call("POST", "/api/auth/token", _access_token, form=form)


def agent_heartbeat(
    agent_id: UUID | str,
    cpu_pct: float,
    mem_pct: float,
    disk_pct: float,
    running_jobs: Iterable[str] = (),
) -> Call[Json]:
    """The answer's `agent_token` is a fresh one: use it from then on."""
    body: Json = {"cpu_pct": cpu_pct, "mem_pct": mem_pct, "disk_pct": disk_pct}
    body["running_jobs"] = list(running_jobs)
    return Call("POST", f"{AGENTS}/{agent_id}/heartbeat", json, body)


def deregister_agent(
    agent_id: UUID | str, reason: str = "deregistered", *, idempotency_key: str | None = None
) -> Call[Receipt]:
    path = f"{AGENTS}/{agent_id}/deregister"
    return Call("POST", path, receipt, {"reason": reason}, idempotency_key=idempotency_key)


class Queueing:
    enqueue = Op(enqueue)
    queue_existing = Op(queue_existing)
    claim = Op(claim)
    start_claimed = Op(start_claimed)
    lease_heartbeat = Op(lease_heartbeat)
    write_logs = Op(write_logs)
    complete_claimed = Op(complete_claimed)
    fail_claimed = Op(fail_claimed)
    release = Op(release)
    cancel = Op(cancel)
    retry_dead_letter = Op(retry_dead_letter)
    pause_pool = Op(pause_pool)
    resume_pool = Op(resume_pool)
    register_agent = Op(register_agent)
    exchange_id_token = Op(exchange_id_token)
    agent_heartbeat = Op(agent_heartbeat)
    deregister_agent = Op(deregister_agent)
