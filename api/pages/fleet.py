"""The fleet's pages: agents by pool with their health and recent heartbeats' load, and the dead
letters."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import reads
from api.deps import Reader
from api.pages.deps import PageViewer
from api.pages.errors import PageRoute
from api.pages.render import render
from api.pages.sparkline import Sparkline, sparkline
from api.schemas import Cursor, Limit
from domain.identity import Permission
from infra.recent_beats import Sample
from infra.services import Services
from projections.agents import AgentView, PoolView
from wire.agents import Scaling

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class AgentRow:
    view: AgentView
    running: list[str]
    charts: list[Sparkline]


@dataclass(frozen=True)
class PoolSection:
    pool: PoolView
    scaling: Scaling
    agents: list[AgentRow]


def charts(samples: list[Sample], thresholds: tuple[float, ...]) -> list[Sparkline]:
    """None without samples (a past state, or an agent not heard lately): an empty chart would
    read as a level of zero."""
    if not samples:
        return []
    series = (
        ("CPU", [s.cpu_pct for s in samples]),
        ("memory", [s.mem_pct for s in samples]),
        ("disk", [s.disk_pct for s in samples]),
    )
    return [sparkline(name, values, thresholds) for name, values in series]


async def fleet(services: Services) -> list[PoolSection]:
    """Every pool with its agents; a past state shows what the log held then, no live beat."""
    board = services.views.agents
    views = await reads.with_beats(services, board.select(None, None, None))
    policy = services.settings.health
    thresholds = (policy.degraded_pct, policy.unhealthy_pct)
    rows = [
        AgentRow(
            v,
            board.jobs_of(v.agent_id)[0],
            charts(reads.recent_beats(services, v.agent_id), thresholds),
        )
        for v in views
    ]
    pools = services.views.pools.listing()
    return [
        PoolSection(p, reads.scaling(services, p), [r for r in rows if r.view.pool == p.name])
        for p in pools
    ]


@router.get("/agents")
async def agents(request: Request, viewer: PageViewer, services: Reader) -> HTMLResponse:
    """Readers; the drain, resume and deregister buttons for operators, on the live state."""
    return render(
        request,
        "agents.html",
        viewer,
        active="agents",
        as_of_seq=services.as_of_seq,
        pools=await fleet(services),
        operable=viewer.may(Permission.OPERATE) and services.as_of_seq is None,
    )


@router.get("/dead-letters")
async def dead_letters(
    request: Request,
    viewer: PageViewer,
    services: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> HTMLResponse:
    """Readers; the retry buttons for operators, on the live state."""
    page = reads.dead_letters(services, limit, cursor)
    following = request.url.include_query_params(cursor=page.next_cursor)
    return render(
        request,
        "dead_letters.html",
        viewer,
        active="dead-letters",
        as_of_seq=services.as_of_seq,
        letters=page.items,
        jobs={d.job_id: services.views.jobs.get(d.job_id) for d in page.items},
        may_retry=viewer.may(Permission.OPERATE) and services.as_of_seq is None,
        next_url=f"{following.path}?{following.query}" if page.next_cursor else None,
    )
