"""Agents and the pools they serve."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.agent import Agent, HostInfo
from domain.commands.base import Command
from domain.commands.results import Beaten, Committed, Registration
from domain.health import Metrics
from domain.pool import Pool


@dataclass(frozen=True)
class RegisterAgent(Command[Registration]):
    """Only a registrar (`RegistrationContext`) sends it; the new agent is the events' actor."""

    ACTION = "agent.register"
    name: str
    pool: str
    labels: frozenset[str]
    version: str
    host: HostInfo
    slots: int


@dataclass(frozen=True)
class HeartbeatAgent(Command[Beaten]):
    ACTION = "agent.heartbeat"
    agent_id: str
    metrics: Metrics
    running_jobs: tuple[str, ...]


@dataclass(frozen=True)
class DeregisterAgent(Command[Committed[Agent]]):
    """From an operator, or from the agent itself as it stops."""

    ACTION = "agent.deregister"
    agent_id: UUID
    reason: str


@dataclass(frozen=True)
class DrainAgent(Command[Committed[Agent]]):
    ACTION = "agent.drain"
    agent_id: UUID


@dataclass(frozen=True)
class ResumeAgent(Command[Committed[Agent]]):
    ACTION = "agent.resume"
    agent_id: UUID


@dataclass(frozen=True)
class CreatePool(Command[Committed[Pool]]):
    """Creates the pool, or sets the limits of the one with this name."""

    ACTION = "pool.create"
    name: str
    min_agents: int
    max_agents: int
    labels: frozenset[str]


@dataclass(frozen=True)
class PausePool(Command[Committed[Pool]]):
    ACTION = "pool.pause"
    pool: str
    reason: str


@dataclass(frozen=True)
class ResumePool(Command[Committed[Pool]]):
    ACTION = "pool.resume"
    pool: str
