"""Examples of what the read models answer, the items of the lists' pages, and the values the
other examples share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.routes.login import ProviderView
from projections.access import TokenView
from projections.agents import AgentView, PoolView
from projections.deployments import DeploymentView
from projections.jobs import JobView
from projections.queue import DeadLetter, LevelStats
from projections.trust import TrustPolicyView
from wire.access import Roles
from wire.logs import LogLine

JOB_ID = "0b7e5f4e-2c1d-4a8e-9f3b-6d2a1c0e9b7a"
DEPLOYMENT_ID = "5d6c7b8a-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
AGENT_ID = "8f14e45f-ceea-467f-a0e6-2f3b9c7d1e20"
POLICY_ID = "c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f"
TOKEN_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
AT = "2026-11-21T14:03:12.480000Z"
LATER = "2026-11-21T14:05:40.120000Z"
ADMIN = "service:ci"
GIT = {
    "repo": "org/repo",
    "ref": "main",
    "commit_sha": "abc123def456",
    "commit_message": "Add feature",
    "author": "alice@example.com",
}
GIT_FIELDS = {f"git_{name}": value for name, value in GIT.items()}
HOST = {"hostname": "ci-7", "os": "linux", "arch": "x86_64", "cpu_count": 8, "memory_mb": 16384}
METRICS = {"cpu_pct": 41.5, "mem_pct": 62.0, "disk_pct": 22.8}
HISTORY_ENTRY = {"at": AT, "seq": 1040, "actor": ADMIN}

JOB_VIEW = {
    "job_id": JOB_ID,
    "status": "success",
    "job_type": "test",
    "git": GIT,
    "metadata": {"pipeline": "42"},
    "agent_id": "agent-1",
    "created_at": AT,
    "started_at": AT,
    "finished_at": LATER,
    "duration_s": 147.64,
    "exit_code": 0,
    "summary": "312 passed",
    "log_url": "https://ci.example.com/logs/42",
    "artifact_urls": [],
    "attempts": 1,
    "history": [
        {**HISTORY_ENTRY, "status": "pending", "event": "job.Created"},
        {**HISTORY_ENTRY, "status": "running", "event": "job.Started", "agent_id": "agent-1"},
        {**HISTORY_ENTRY, "status": "success", "event": "job.Completed", "seq": 1042},
    ],
    "last_seq": 1042,
}
DEPLOYMENT_VIEW = {
    "deployment_id": DEPLOYMENT_ID,
    "service_name": "api-backend",
    "service_version": "v1.0.0",
    "status": "live",
    "git": GIT,
    "created_at": AT,
    "environments": {
        "staging": {"started_at": AT, "finished_at": AT, "duration_s": 30.0},
        "production": {"started_at": AT, "finished_at": LATER, "duration_s": 117.6},
    },
    "metrics": {"error_rate": 0.002},
    "last_seq": 2210,
    "history": [{**HISTORY_ENTRY, "event": "deployment.Created", "status": "pending"}],
}
AGENT_VIEW = {
    "agent_id": AGENT_ID,
    "name": "a1",
    "pool": "default",
    "labels": ["linux", "docker"],
    "agent_version": "0.1.0",
    "host": HOST,
    "slots": 2,
    "status": "healthy",
    "health": "healthy",
    "metrics": METRICS | {"running_jobs": 1},
    "registered_at": AT,
    "changed_at": LATER,
    "last_seq": 988,
}
TOKEN_VIEW = {
    "token_id": TOKEN_ID,
    "name": "ci",
    "principal": ADMIN,
    "roles": ["deployer"],
    "service_names": ["api-backend"],
    "expires_at": None,
    "created_at": AT,
    "created_by": "service:bootstrap-admin",
    "revoked": False,
}
POLICY_TERMS = {
    "name": "github-actions-builds",
    "issuer": "https://token.actions.githubusercontent.com",
    "audience": "jetdeck",
    "claims": {"repository": "org/repo", "ref": "refs/heads/main"},
    "pool": "builds",
}

LISTED: dict[type[BaseModel], dict[str, Any]] = {
    JobView: JOB_VIEW,
    DeploymentView: DEPLOYMENT_VIEW,
    AgentView: AGENT_VIEW,
    PoolView: {"name": "builds", "min_agents": 1, "max_agents": 3, "labels": ["linux"]},
    LevelStats: {
        "pool": "default",
        "priority": "high",
        "depth": 3,
        "oldest_wait_s": 12.5,
        "wait_p50_s": 0.8,
        "wait_p95_s": 4.1,
        "in_flight": 2,
        "dead_letters": 0,
        "completions_per_min": 17,
    },
    DeadLetter: {
        "job_id": JOB_ID,
        "pool": "default",
        "priority": "normal",
        "reason": "3 attempts failed: exit code 2",
        "attempts": 3,
        "at": AT,
    },
    LogLine: {"seq": 77, "stream": "stdout", "text": "step 1\n", "time": AT, "attempt": 1},
    TokenView: TOKEN_VIEW,
    Roles: {"principal": "user:alice@example.com", "roles": ["deployer"]},
    TrustPolicyView: POLICY_TERMS
    | {
        "policy_id": POLICY_ID,
        "created_at": AT,
        "created_by": ADMIN,
        "changed_at": AT,
        "changed_by": ADMIN,
        "last_seq": 310,
    },
    ProviderView: {"name": "corp", "kind": "oidc", "login_url": "/api/auth/login/corp"},
}
"""Models that lists answer pages of: each example is an item of its page's example too."""
