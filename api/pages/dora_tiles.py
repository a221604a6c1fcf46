"""The overview's DORA tiles: the figures the JSON route answers (`api.reads.dora_metrics`),
each with its definition taken from `wire.dora`'s field descriptions, so the page and the
OpenAPI document print the same words."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup, escape
from pydantic import BaseModel
from starlette.datastructures import URL

from api.pages.render import percent, seconds
from wire.dora import (
    ChangeFailureRate,
    DeploymentFrequency,
    DoraMetrics,
    DoraWindow,
    LeadTime,
    TimeToRestore,
)

NONE = "—"


@dataclass(frozen=True)
class Definition:
    field: str
    text: Markup


@dataclass(frozen=True)
class Tile:
    key: str
    """The metric's field in `DoraMetrics`: the tile's id."""
    title: str
    value: str
    reason: str | None
    """Why the value is missing, when it is."""
    detail: str
    about: str
    """The metric's one-line description."""
    headline: Definition
    """The definition of the figure the tile shows."""
    others: tuple[Definition, ...]


@dataclass(frozen=True)
class WindowLink:
    days: int
    url: str
    current: bool


@dataclass(frozen=True)
class DoraPanel:
    metrics: DoraMetrics
    tiles: list[Tile]
    windows: list[WindowLink]


def panel(metrics: DoraMetrics, url: URL) -> DoraPanel:
    """`url`: the page's, whose other parameters (an `as_of`) the window links keep."""
    links = [
        WindowLink(w.value, _relative(url.include_query_params(days=w.value)), w == metrics.days)
        for w in DoraWindow
    ]
    return DoraPanel(metrics, tiles(metrics), links)


def _relative(url: URL) -> str:
    return f"{url.path}?{url.query}"


def tiles(m: DoraMetrics) -> list[Tile]:
    frequency, lead, failures, restore = (
        m.deployment_frequency,
        m.lead_time,
        m.change_failure_rate,
        m.time_to_restore,
    )
    return [
        _tile(
            "deployment_frequency",
            f"{frequency.per_day:.2f} a day",
            None,
            f"{frequency.deployments} deployments in {m.days.value} days",
        ),
        _tile(
            "lead_time",
            seconds(lead.median_s) or NONE,
            _lead_time_gap(lead),
            f"p95 {seconds(lead.p95_s) or NONE}; {lead.changes} changes, "
            f"{lead.without_job} without a job",
        ),
        _tile(
            "change_failure_rate",
            percent(failures.rate) or NONE,
            None if failures.rate is not None else "no production deployment ended in the window",
            f"{failures.failed} failed of {failures.deployments} production deployments",
        ),
        _tile(
            "time_to_restore",
            seconds(restore.median_s) or NONE,
            _restore_gap(restore),
            f"{restore.restored} restored of {restore.failures} failures",
        ),
    ]


def _lead_time_gap(lead: LeadTime) -> str | None:
    if lead.median_s is not None:
        return None
    if lead.without_job:
        return "no change went live whose commit a job carried first"
    return "no change went live in the window"


def _restore_gap(restore: TimeToRestore) -> str | None:
    if restore.median_s is not None:
        return None
    if restore.failures:
        return "no failure in the window was restored yet"
    return "no production failure in the window"


HEADLINES: dict[str, tuple[type[BaseModel], str]] = {
    "deployment_frequency": (DeploymentFrequency, "per_day"),
    "lead_time": (LeadTime, "median_s"),
    "change_failure_rate": (ChangeFailureRate, "rate"),
    "time_to_restore": (TimeToRestore, "median_s"),
}
"""Each metric's model and the figure its tile shows."""


def _tile(key: str, value: str, reason: str | None, detail: str) -> Tile:
    model, headline = HEADLINES[key]
    definitions = _definitions(model)
    return Tile(
        key=key,
        title=key.replace("_", " ").capitalize(),
        value=value,
        reason=reason,
        detail=detail,
        about=inspect.getdoc(model) or "",
        headline=next(d for d in definitions if d.field == headline),
        others=tuple(d for d in definitions if d.field != headline),
    )


@cache
def _definitions(model: type[BaseModel]) -> tuple[Definition, ...]:
    return tuple(
        Definition(name, code_spans(field.description or ""))
        for name, field in model.model_fields.items()
    )


def code_spans(text: str) -> Markup:
    """The descriptions' `name` spans as <code>, the rest escaped."""
    parts = str(escape(text)).split("`")  # escaped first: the spans are the only markup
    return Markup("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))
