"""Dashboard deployments: record them, report their stages, roll them back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, FiniteFloat

from domain.deployment import DeploymentStatus, Outcome
from domain.values import Name, ShortText, Text
from wire.common import Body, GitFields


class DeploymentCreate(GitFields):
    service_name: Name
    service_version: Name
    git_repo: ShortText = ""
    git_ref: ShortText = ""


class StageReport(Body):
    """`started` enters the stage; `succeeded` gives staged (staging) or live (production)."""

    outcome: Outcome = Outcome.STARTED
    reason: Text = ""
    metrics: Annotated[dict[Name, FiniteFloat], Field(max_length=64)] = {}


class RollbackRequest(Body):
    reason: Annotated[str, Field(min_length=1, max_length=10_000)]


class DeploymentAccepted(BaseModel):
    deployment_id: UUID
    status: DeploymentStatus
    seq: int
