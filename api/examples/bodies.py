"""Examples of the request bodies and of the answers that are not read models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.examples.views import (
    ADMIN,
    AGENT_ID,
    AGENT_VIEW,
    AT,
    DEPLOYMENT_ID,
    GIT,
    GIT_FIELDS,
    HOST,
    JOB_ID,
    JOB_VIEW,
    LATER,
    METRICS,
    POLICY_ID,
    POLICY_TERMS,
    TOKEN_VIEW,
)
from api.routes.agents import AgentDetail
from api.routes.health import Health, Liveness, Readiness
from api.routes.login import SessionView
from domain.trust import PolicyTerms
from projections.summary import Summary
from wire.access import (
    Exchanged,
    ExchangeForm,
    IssuedToken,
    PolicyDeleted,
    RevokeRequest,
    RoleRequest,
    TokenRequest,
)
from wire.agents import (
    AgentAnswer,
    AgentHeartbeatAnswer,
    AgentJobs,
    DeregisterRequest,
    HealthCounts,
    HeartbeatRequest,
    PoolRequest,
    Registered,
    RegisterRequest,
    Scaling,
)
from wire.audit import AuditTrail, QuarantineList
from wire.batch import BatchEnqueued, BatchEnqueueRequest
from wire.deployments import DeploymentAccepted, DeploymentCreate, RollbackRequest, StageReport
from wire.jobs import JobAccepted, JobComplete, JobCreate, JobStart
from wire.logs import LogWrite, LogWritten
from wire.problems import Problem
from wire.queue import (
    ClaimAnswer,
    ClaimRequest,
    ClaimsAnswer,
    ClaimsRequest,
    CompleteRequest,
    Enqueued,
    EnqueueRequest,
    FailRequest,
    JobAnswer,
    LeaseCall,
    LeaseHeartbeatAnswer,
    PoolState,
    ReasonBody,
)
from wire.waiting import WhyWaiting

CLAIM_TOKEN = "eyJqb2IiOiIwYjdlIn0.c2lnbmF0dXJl"
SECRET = "jdsvc_3q2ZbXl0cVt4mA9kP1rN7sW5"
ACCEPTED = {"job_id": JOB_ID, "status": "running", "seq": 1042}

CLAIMED_JOB = {
    "job_id": JOB_ID,
    "job_type": "build",
    "command": "make test",
    "timeout_s": 3600,
    "attempt": 1,
    "pool": "default",
    "priority": "high",
    "labels": ["linux"],
    "git": GIT,
    "metadata": {},
}
CLAIM_ANSWER = {
    "job": CLAIMED_JOB,
    "claim_token": CLAIM_TOKEN,
    "lease_expires_at": LATER,
    "heartbeat_every_s": 20.0,
    "seq": 1041,
}

WHY_WAITING = {
    "job_id": JOB_ID,
    "status": "queued",
    "waiting": True,
    "reason": "agents_busy",
    "sentence": "The one agent that could run it is busy, and it is number 3 in line at "
    "priority normal (1 job of higher priority and 1 older job of its own go first).",
    "holding": ["agents_busy"],
    "facts": {
        "pool": "default",
        "priority": "normal",
        "labels": ["linux"],
        "attempts": 0,
        "queued_at": AT,
        "pool_paused": False,
        "pause_reason": "",
        "run_at": None,
        "retry_at": None,
        "agents_in_pool": 2,
        "capable_agents": 1,
        "available_agents": 1,
        "free_agents": 0,
        "agents": [
            {
                "agent_id": AGENT_ID,
                "name": "a1",
                "labels": ["docker", "linux"],
                "status": "healthy",
                "running": 2,
                "slots": 2,
                "changed_at": AT,
            }
        ],
        "former_agent": None,
        "place": {"position": 3, "higher": 1, "older": 1, "due": 5},
    },
}

BODIES: dict[type[BaseModel], dict[str, Any]] = {
    Problem: {
        "type": "urn:jetdeck:problem:invalid_transition",
        "title": "Invalid transition",
        "status": 409,
        "detail": f"cannot complete job {JOB_ID} in status pending",
        "instance": f"/api/dashboard/jobs/{JOB_ID}/complete",
        "error": "invalid_transition",
        "current_status": "pending",
    },
    JobCreate: {"job_type": "test", **GIT_FIELDS, "metadata": {"pipeline": "42"}},
    JobStart: {"agent_id": "agent-1"},
    JobComplete: {"status": "success", "exit_code": 0, "summary": "312 passed"},
    JobAccepted: ACCEPTED,
    DeploymentCreate: {
        "service_name": "api-backend",
        "service_version": "v1.0.0",
        **GIT_FIELDS,
    },
    StageReport: {"outcome": "succeeded", "metrics": {"error_rate": 0.002}},
    RollbackRequest: {"reason": "error rate above 2%"},
    DeploymentAccepted: {"deployment_id": DEPLOYMENT_ID, "status": "live", "seq": 2210},
    Summary: {
        "jobs_total": 120,
        "jobs_by_status": {"success": 101, "failed": 12, "running": 7},
        "success_rate": 0.894,
        "duration": {"count": 113, "mean_s": 88.2, "p95_s": 301.0},
        "running_now": 7,
        "deployments_last_24h": 4,
        "live_versions": {"api-backend": {"production": "v1.0.0", "staging": "v1.1.0"}},
        "as_of_seq": 2210,
    },
    EnqueueRequest: {
        "job_type": "build",
        **GIT_FIELDS,
        "command": "make test",
        "priority": "high",
        "labels": ["linux"],
        "lease_s": 60,
        "retry": {"exit_codes": [75], "max_attempts": 2},
    },
    Enqueued: {"job_id": JOB_ID, "status": "queued", "seq": 1040, "existing": False},
    BatchEnqueueRequest: {
        "jobs": [
            {"job_type": "build", **GIT_FIELDS, "command": "make build"},
            {"job_type": "test", **GIT_FIELDS, "command": "make test", "priority": "high"},
            {"job_id": "9b3f1a52-0d7e-4c8a-b5e2-6f1d2c3b4a59"},
        ]
    },
    BatchEnqueued: {
        "jobs": [
            {
                "status": 201,
                "job_id": JOB_ID,
                "job_status": "queued",
                "seq": 1040,
                "existing": False,
            },
            {
                "status": 201,
                "job_id": "2c8e4f61-7a3b-4d9e-8f1c-0b5a6d7e8f90",
                "job_status": "queued",
                "seq": 1041,
                "existing": False,
            },
            {
                "status": 404,
                "error": "not_found",
                "detail": "job 9b3f1a52-0d7e-4c8a-b5e2-6f1d2c3b4a59 not found",
            },
        ],
        "queued": 2,
        "seq": 1041,
    },
    ClaimRequest: {"agent_id": AGENT_ID, "pool": "default", "labels": ["linux"], "wait_s": 5},
    ClaimAnswer: CLAIM_ANSWER,
    ClaimsRequest: {"agent_id": AGENT_ID, "pool": "default", "wait_s": 5, "max_jobs": 4},
    ClaimsAnswer: {"claims": [CLAIM_ANSWER]},
    LeaseCall: {"claim_token": CLAIM_TOKEN},
    LeaseHeartbeatAnswer: {"status": "running", "cancelled": False, "lease_expires_at": LATER},
    CompleteRequest: {"claim_token": CLAIM_TOKEN, "exit_code": 0, "summary": "312 passed"},
    FailRequest: {
        "claim_token": CLAIM_TOKEN,
        "error": "exit code 2",
        "failure_class": "script",
        "exit_code": 2,
    },
    JobAnswer: ACCEPTED,
    ReasonBody: {"reason": "superseded by a newer commit"},
    PoolState: {"pool": "default", "paused": True, "seq": 1100},
    WhyWaiting: WHY_WAITING,
    LogWrite: {
        "claim_token": CLAIM_TOKEN,
        "chunks": [{"stream": "stdout", "text": "step 1\n"}],
        "offset": 0,
    },
    LogWritten: {"job_id": JOB_ID, "first_seq": 77, "last_seq": 77},
    RegisterRequest: {"name": "a1", "labels": ["linux"], "version": "0.1.0", "host": HOST},
    Registered: {
        "agent_id": AGENT_ID,
        "agent_token": "jdagt_9xPq2LmN4vB7",
        "status": "healthy",
        "heartbeat_interval_s": 10.0,
        "seq": 988,
    },
    HeartbeatRequest: METRICS | {"running_jobs": [JOB_ID]},
    AgentHeartbeatAnswer: {
        "status": "healthy",
        "instructions": [{"action": "cancel", "job_id": JOB_ID}],
        "heartbeat_interval_s": 10.0,
        "agent_token": "jdagt_4kRt8ZwQ1sYe",
    },
    AgentDetail: AGENT_VIEW
    | {"last_heartbeat": {"at": LATER, "metrics": AGENT_VIEW["metrics"], "running_jobs": []}},
    AgentJobs: {"current": [JOB_VIEW], "recent": []},
    HealthCounts: {
        "by_status": {"healthy": 3, "draining": 1},
        "by_pool": {"default": {"healthy": 2}, "builds": {"healthy": 1, "draining": 1}},
    },
    AgentAnswer: {"agent_id": AGENT_ID, "status": "draining", "seq": 990},
    DeregisterRequest: {"reason": "host retired"},
    PoolRequest: {"name": "builds", "min_agents": 1, "max_agents": 3, "labels": ["linux"]},
    Scaling: {
        "pool": "builds",
        "idle_agents": 0,
        "busy_agents": 2,
        "queue_depth": 4,
        "oldest_wait_s": 41.0,
        "min_agents": 1,
        "max_agents": 3,
        "desired_agents": 3,
    },
    AuditTrail: {
        "aggregate": "job",
        "id": JOB_ID,
        "chain_valid": True,
        "events": [
            {
                "seq": 1040,
                "time": AT,
                "type": "job.Created",
                "subject": f"ev.job.{JOB_ID}",
                "actor": ADMIN,
                "command_id": f"{ADMIN}|build-42",
                "action": "job.create",
                "correlation_id": f"{ADMIN}|build-42",
                "prev": "",
                "hash": "9f2c4e1ab0d3",
                "data": {"job_type": "test"},
            }
        ],
    },
    QuarantineList: {"count": 0, "last_seq": 0, "kept": 100, "events": []},
    TokenRequest: {"name": "ci", "roles": ["deployer"], "service_names": ["api-backend"]},
    IssuedToken: TOKEN_VIEW | {"token": SECRET, "seq": 12},
    RevokeRequest: {"reason": "leaked in a build log"},
    RoleRequest: {"role": "deployer"},
    SessionView: {
        "principal": "user:alice@example.com",
        "roles": ["deployer"],
        "permissions": ["deploy", "read", "report"],
        "provider": "corp",
        "created_at": AT,
        "expires_at": LATER,
        "csrf_token": "Xq1Wm3Rb5Tz7",
    },
    Health: {
        "status": "ok",
        "nats_connected": True,
        "stream": {"messages": 2210, "last_seq": 2210, "bytes": 1843200},
        "projection_seq": 2210,
        "projection_lag": 0,
        "skipped_events": 0,
        "read_model_faults": 0,
        "quarantined_events": 0,
        "last_quarantined_seq": 0,
        "rejected_tickets": 0,
        "missing_workers": [],
        "alarms": [],
    },
    Liveness: {"status": "alive"},
    Readiness: {"ready": False, "reasons": ["worker dead_letters not heard from"]},
    PolicyTerms: POLICY_TERMS,
    PolicyDeleted: {"policy_id": POLICY_ID, "seq": 311},
    ExchangeForm: {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9yZy9yZXBvIn0.c2ln",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    },
    Exchanged: {"access_token": "jdreg_7Hn2Kq9Lx4Vb", "expires_in": 900},
}
