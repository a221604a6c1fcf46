"""What the DORA metrics read (projections/dora.py), gathered from the log.

Growth: one SHA and one time per distinct commit any job carried, and per deployment that
entered production its service, SHA and up to three times; a deployment waiting for production
is kept by id until it gets there or ends. Nothing is ever dropped, since a commit may go live
long after its first job; only the dashboard holds this model (infra/read_models.DASHBOARD_ONLY).
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, ClassVar

from domain.deployment import Deployment, Environment
from domain.job import Job
from domain.model import DomainEvent
from domain.recorded import RecordedEvent
from projections.dora import History, Release


def sha_key(sha: str) -> str:
    """Jobs and deployments may spell one commit in either case."""
    return sha.lower()


class DoraHistory:
    name: ClassVar[str] = "dora"
    kinds: ClassVar[frozenset[str]] = frozenset({Job.KIND, Deployment.KIND})
    skips: ClassVar[frozenset[type[DomainEvent]]] = frozenset[type[DomainEvent]](
        (
            Job.Queued,
            Job.Requeued,
            Job.Claimed,
            Job.Started,
            Job.Completed,
            Job.Failed,
            Job.AttemptLost,
            Job.Released,
            Job.DeadLettered,
            Deployment.Superseded,
            Deployment.Restored,
        )
    )

    def __init__(self) -> None:
        self.first_seen: dict[str, datetime] = {}
        self.waiting: dict[str, tuple[str, str]] = {}
        """Deployment id -> (service, SHA), until it enters production or ends before it."""
        self.releases: dict[str, Release] = {}
        """Deployment id -> the deployment, once it entered production."""

    def history(self) -> History:
        return History(self.first_seen, list(self.releases.values()))

    def apply(self, recorded: RecordedEvent) -> None:
        if recorded.kind == Job.KIND:
            if isinstance(recorded.event, Job.Created):
                self._seen(sha_key(recorded.event.git.commit_sha), utc(recorded))
        elif recorded.kind == Deployment.KIND:
            self._deployment(recorded.aggregate_id, recorded)

    def _seen(self, sha: str, at: datetime) -> None:
        known = self.first_seen.get(sha)
        if known is None or at < known:
            self.first_seen[sha] = at

    def _deployment(self, deployment_id: str, recorded: RecordedEvent) -> None:
        release = self.releases.get(deployment_id)
        if release is not None:
            _in_production(release, recorded)
            return
        match recorded.event:
            case Deployment.Created(service_name=service, git=git):
                self.waiting[deployment_id] = (service, sha_key(git.commit_sha))
            case Deployment.StageStarted(environment=Environment.PRODUCTION):
                entering = self.waiting.pop(deployment_id, None)
                if entering is not None:
                    self.releases[deployment_id] = Release(*entering)
            case Deployment.StageFailed() | Deployment.RolledBack():  # ended before production
                self.waiting.pop(deployment_id, None)

    def dump(self) -> Any:
        """Times as datetimes: orjson writes them as `isoformat` does, without a Python call per
        commit or release (a picture holds every commit ever seen, and every release)."""
        return {
            "first_seen": self.first_seen,
            "waiting": self.waiting,
            "releases": dict(zip(self.releases, map(_pack, self.releases.values()), strict=True)),
        }

    def restore(self, data: Any) -> None:
        seen = data["first_seen"]
        self.first_seen = {sha: datetime.fromisoformat(at) for sha, at in seen.items()}
        self.waiting = {i: (service, sha) for i, (service, sha) in data["waiting"].items()}
        self.releases = {i: _unpack(*packed) for i, packed in data["releases"].items()}


def utc(recorded: RecordedEvent) -> datetime:
    """The event's time in `datetime.UTC` itself: a decoded event carries pydantic's own UTC
    zone, and comparing datetimes of two zone objects calls both zones' `utcoffset`, which made
    the metrics over 8,000 deployments about eight times slower (bench/pages.py)."""
    return recorded.at.astimezone(UTC)


def _in_production(release: Release, recorded: RecordedEvent) -> None:
    """Past the production start, a stage outcome can only be production's."""
    match recorded.event:
        case Deployment.StageSucceeded():
            release.live_at = utc(recorded)
        case Deployment.StageFailed():
            release.failed_at = utc(recorded)
        case Deployment.RolledBack():
            release.rolled_back_at = utc(recorded)


_pack = attrgetter("service", "sha", "live_at", "failed_at", "rolled_back_at")
"""A release as a picture holds it, in `_unpack`'s order: orjson writes its times as `_time`
reads them."""


def _unpack(
    service: str, sha: str, live: str | None, failed: str | None, rolled_back: str | None
) -> Release:
    return Release(service, sha, _time(live), _time(failed), _time(rolled_back))


def _time(iso: str | None) -> datetime | None:
    return None if iso is None else datetime.fromisoformat(iso)
