"""The event catalog: every event's stable public name, its class and its aggregate kind."""

from __future__ import annotations

from domain.access import RoleSet, ServiceToken
from domain.agent import Agent
from domain.deployment import Deployment
from domain.job import Job
from domain.model import Aggregate, DomainEvent
from domain.pool import Pool
from domain.trust import TrustPolicy

AGGREGATES: dict[str, type[Aggregate]] = {
    cls.KIND: cls for cls in (Job, Deployment, Agent, Pool, RoleSet, ServiceToken, TrustPolicy)
}


def _event_classes(aggregate: type[Aggregate]) -> dict[str, type[DomainEvent]]:
    return {
        f"{aggregate.KIND}.{name}": value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, DomainEvent) and name != "Event"
    }


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    name: cls
    for aggregate in AGGREGATES.values()
    for name, cls in _event_classes(aggregate).items()
}
EVENT_NAMES: dict[type[DomainEvent], str] = {cls: name for name, cls in EVENT_TYPES.items()}
