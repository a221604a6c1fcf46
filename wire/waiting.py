"""Why a job waits: the answer of `GET /api/queue/jobs/{job_id}/why`."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from domain.job_status import JobStatus
from projections.jobs import JobView
from projections.waiting import WaitFacts, WaitReason
from projections.why_waiting import Explanation


class WhyWaiting(BaseModel):
    job_id: UUID
    status: JobStatus
    waiting: bool = Field(description="True while the job is queued.")
    reason: WaitReason = Field(
        description="The first cause that holds, in the order pool_paused, scheduled, "
        "backing_off, no_capable_agent, agents_unavailable, agents_busy; next_up when none "
        "holds; not_waiting for a job that is not queued."
    )
    sentence: str = Field(description="The reason in one plain sentence.")
    holding: list[WaitReason] = Field(
        description="Every cause that holds, in that order: `reason` first, then the ones it "
        "hides (a scheduled job no agent can run, say)."
    )
    facts: WaitFacts | None = Field(
        description="What the answer was computed from; null for a job that is not queued."
    )

    @classmethod
    def of(cls, job: JobView, explanation: Explanation) -> WhyWaiting:
        return cls(
            job_id=UUID(job.job_id),
            status=job.status,
            waiting=explanation.reason is not WaitReason.NOT_WAITING,
            reason=explanation.reason,
            sentence=explanation.sentence,
            holding=list(explanation.holding),
            facts=explanation.facts,
        )
