"""The DORA metrics' answer. Each figure's definition is its field's description, so the
OpenAPI document and the dashboard print the same words (docs/architecture.md, DORA metrics)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel, Field

from projections.dora import DoraFigures

PRODUCTION_DEPLOYMENT = (
    "A production deployment is one that entered the production stage; its production outcome "
    "is when it went live, failed there, or was rolled back before either."
)


class DoraWindow(IntEnum):
    """The windows the dashboard offers, in days."""

    WEEK = 7
    MONTH = 30
    QUARTER = 90


class DeploymentFrequency(BaseModel):
    """How often changes reach production."""

    deployments: int = Field(
        description="Deployments whose production stage succeeded (went live) inside the window, "
        "counted by that time. One rolled back later still counts: it did go live."
    )
    per_day: float = Field(description="`deployments` divided by the window's days; 0 if none.")


class LeadTime(BaseModel):
    """From a commit's first job to the commit going live in production."""

    changes: int = Field(
        description="Changes that went live inside the window and whose commit a job carried "
        "first. A change is a commit SHA going live in a service for the first time; a later "
        "deployment of the same SHA to that service delivers no new change."
    )
    without_job: int = Field(
        description="Changes that went live inside the window but whose SHA no job carried "
        "before that (a deployment whose commit JetDeck never built): left out of the times."
    )
    median_s: float | None = Field(
        description="Median, in seconds, of the changes' lead times: the time the deployment "
        "went live minus the creation time of the first job whose git context carries the same "
        "commit SHA (compared case-insensitively). For an even count, the mean of the two "
        "middle values. Null when no change counts."
    )
    p95_s: float | None = Field(
        description="95th percentile of the same lead times, in seconds, by nearest rank: the "
        "smallest lead time that at least 95% of them do not exceed. Null when no change counts."
    )


class ChangeFailureRate(BaseModel):
    """The share of production deployments that failed."""

    deployments: int = Field(
        description=f"{PRODUCTION_DEPLOYMENT} Those whose production outcome falls inside the "
        "window; one still in its production stage is not counted."
    )
    failed: int = Field(
        description="Of `deployments`, those whose production stage failed or that were rolled "
        "back (at any time up to the window's end)."
    )
    rate: float | None = Field(
        description="`failed` / `deployments`, from 0 to 1. Null when there are no deployments."
    )


class TimeToRestore(BaseModel):
    """From a production failure to the service's next deployment that goes live."""

    failures: int = Field(
        description="Failed or rolled-back production deployments whose failure falls inside "
        "the window. The failure's time is when the production stage failed, else when the "
        "deployment was rolled back."
    )
    restored: int = Field(
        description="Of `failures`, those followed by a deployment of the same service that "
        "went live after the failure and by the window's end. Restoring the previous version "
        "by a rollback does not count: the service is restored when a deployment goes live."
    )
    median_s: float | None = Field(
        description="Median, in seconds, of the restored failures' times to restore: the next "
        "deployment's go-live time minus the failure's time. Each failure is one sample, so two "
        "failures fixed by one deployment give two. Failures not restored by the window's end "
        "are left out. For an even count, the mean of the two middle values. Null when none "
        "was restored."
    )


class DoraMetrics(BaseModel):
    """The four DORA metrics of one service, or of all, over a window that ends at the time of
    the request or at the `as_of` point."""

    service: str | None = Field(description="The service asked for; null: all services.")
    days: DoraWindow = Field(description="The window's length in days.")
    window_start: datetime = Field(description="The window's start, excluded.")
    window_end: datetime = Field(
        description="The window's end, included: the time of the request; with `as_of` a time, "
        "that time (at most the request's); with `as_of` a sequence, when the stream committed "
        "that event. Whatever happened after it is not counted."
    )
    as_of_seq: int = Field(description="The stream sequence the figures are computed at.")
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    time_to_restore: TimeToRestore

    @classmethod
    def of(
        cls, figures: DoraFigures, service: str | None, days: DoraWindow, seq: int
    ) -> DoraMetrics:
        return cls.model_validate(
            asdict(figures) | {"service": service, "days": days, "as_of_seq": seq}
        )
