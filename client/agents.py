"""Build agents: registration (by a registration token, or a CI job's OIDC token exchanged for
one), heartbeats, leaving."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from client._http import Call
from client._ops import Op
from client.models import Written, body, model, written
from domain.agent import HostInfo
from wire.access import Exchanged, ExchangeForm
from wire.agents import (
    AgentAnswer,
    AgentHeartbeatAnswer,
    DeregisterRequest,
    HeartbeatRequest,
    Registered,
    RegisterRequest,
)

AGENTS = "/api/agents"


def register_agent(
    name: str,
    host: HostInfo,
    pool: str = "default",
    labels: Iterable[str] = (),
    version: str = "unknown",
    slots: int = 1,
    *,
    idempotency_key: str | None = None,
) -> Call[Written[Registered]]:
    """Needs the registration token; the answer's `agent_token` authenticates the agent."""
    request = RegisterRequest(
        name=name, host=host, pool=pool, labels=tuple(labels), version=version, slots=slots
    )
    answer = written(model(Registered))
    path = f"{AGENTS}/register"
    return Call("POST", path, answer, body(request), idempotency_key=idempotency_key)


def exchange_id_token(id_token: str) -> Call[Exchanged]:
    """A short-lived registration (`access_token`, the bearer token of `register_agent`) for a
    CI job's OIDC token, by RFC 8693 token exchange; needs no token of its own."""
    form = ExchangeForm(
        grant_type="urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token=id_token,
        subject_token_type="urn:ietf:params:oauth:token-type:id_token",
    )
    return Call("POST", "/api/auth/token", model(Exchanged), form=form.model_dump())


def agent_heartbeat(
    agent_id: UUID | str,
    cpu_pct: float,
    mem_pct: float,
    disk_pct: float,
    running_jobs: Iterable[str] = (),
) -> Call[AgentHeartbeatAnswer]:
    """The answer's `agent_token` is a fresh one: use it from then on."""
    request = HeartbeatRequest(
        cpu_pct=cpu_pct, mem_pct=mem_pct, disk_pct=disk_pct, running_jobs=tuple(running_jobs)
    )
    path = f"{AGENTS}/{agent_id}/heartbeat"
    return Call("POST", path, model(AgentHeartbeatAnswer), body(request))


def deregister_agent(
    agent_id: UUID | str, reason: str = "deregistered", *, idempotency_key: str | None = None
) -> Call[Written[AgentAnswer]]:
    request = DeregisterRequest(reason=reason)
    answer = written(model(AgentAnswer))
    path = f"{AGENTS}/{agent_id}/deregister"
    return Call("POST", path, answer, body(request), idempotency_key=idempotency_key)


class Agents:
    register_agent = Op(register_agent)
    exchange_id_token = Op(exchange_id_token)
    agent_heartbeat = Op(agent_heartbeat)
    deregister_agent = Op(deregister_agent)
