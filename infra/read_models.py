"""The read models one process keeps in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from projections.access import AccessBoard
from projections.agents import AgentBoard, PoolBoard
from projections.base import ReadModel
from projections.deployments import DeploymentBoard
from projections.dora_history import DoraHistory
from projections.jobs import JobBoard
from projections.queue import QueueBoard
from projections.summary import JobStats
from projections.throughput import HourlyFinishes
from projections.trust import TrustBoard

DASHBOARD_ONLY = frozenset({JobBoard.name, JobStats.name, DoraHistory.name, HourlyFinishes.name})
"""Read models only the dashboard's routes read: the workers neither feed nor restore them."""


@dataclass
class ReadModels:
    jobs: JobBoard = field(default_factory=JobBoard)
    deployments: DeploymentBoard = field(default_factory=DeploymentBoard)
    stats: JobStats = field(default_factory=JobStats)
    queue: QueueBoard = field(default_factory=QueueBoard)
    agents: AgentBoard = field(default_factory=AgentBoard)
    pools: PoolBoard = field(default_factory=PoolBoard)
    access: AccessBoard = field(default_factory=AccessBoard)
    trust: TrustBoard = field(default_factory=TrustBoard)
    dora: DoraHistory = field(default_factory=DoraHistory)
    throughput: HourlyFinishes = field(default_factory=HourlyFinishes)

    def all(self) -> list[ReadModel]:
        return [
            self.jobs,
            self.deployments,
            self.stats,
            self.queue,
            self.agents,
            self.pools,
            self.access,
            self.trust,
            self.dora,
            self.throughput,
        ]

    def fed(self, dashboard: bool) -> list[ReadModel]:
        """The models a process keeps up to date: all of them for the API, the others for the
        workers."""
        return [m for m in self.all() if dashboard or m.name not in DASHBOARD_ONLY]
