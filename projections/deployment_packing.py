"""Deployment rows in a compact form, for the board's pictures."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any

from domain.deployment import DeploymentStatus, Environment
from projections.deployment_rows import Change, DeploymentRow, Rollback, Stage
from projections.shared_values import SharedValues

# Rows are stored as positional lists (in slot order) and rebuilt without validation, as on the
# job board: the snapshot's code version is this file's, so it holds what this code wrote.
_ROW = attrgetter(*DeploymentRow.__slots__)
_AT = {name: i for i, name in enumerate(DeploymentRow.__slots__)}
_STAGE = attrgetter(*Stage.__slots__)
_STATUSES = {status.value: status for status in DeploymentStatus}
_ENVIRONMENTS = {env.value: env for env in Environment}


def pack(row: DeploymentRow) -> list[Any]:
    """orjson writes the datetimes and enums; the git context and rollback as dicts."""
    out = list(_ROW(row))
    out[_AT["git"]] = row.git.__dict__  # only strings: its field dict is its JSON form
    out[_AT["environments"]] = {env.value: _STAGE(t) for env, t in row.environments.items()}
    if row.rollback is not None:
        out[_AT["rollback"]] = row.rollback.model_dump(mode="json")
    out[_AT["history"]] = [tuple(change) for change in row.history]  # orjson skips subclasses
    return out


def unpack(packed: list[Any], shared: SharedValues) -> DeploymentRow:
    """`shared`: the board's, which many deployments share one git context through."""
    packed[_AT["status"]] = _STATUSES[packed[_AT["status"]]]
    packed[_AT["git"]] = shared.git_of(packed[_AT["git"]])
    packed[_AT["created_at"]] = datetime.fromisoformat(packed[_AT["created_at"]])
    packed[_AT["environments"]] = {
        _ENVIRONMENTS[env]: _stage(*times) for env, times in packed[_AT["environments"]].items()
    }
    if packed[_AT["rollback"]] is not None:
        packed[_AT["rollback"]] = Rollback.model_validate(packed[_AT["rollback"]])
    packed[_AT["history"]] = [
        Change(seq, datetime.fromisoformat(at), actor, event, _STATUSES[status])
        for seq, at, actor, event, status in packed[_AT["history"]]
    ]
    return DeploymentRow(*packed)


def _stage(started: str | None, finished: str | None, duration: float | None, why: str) -> Stage:
    return Stage(
        None if started is None else datetime.fromisoformat(started),
        None if finished is None else datetime.fromisoformat(finished),
        duration,
        why,
    )
