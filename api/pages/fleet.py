"""The fleet's pages: agents by pool with their health and load, and the dead letters."""

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
from infra.services import Services
from projections.agents import AgentView, Load, PoolView
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


def charts(loads: list[Load], view: AgentView, thresholds: tuple[float, ...]) -> list[Sparkline]:
    """The recorded loads, then the latest heartbeat's when it is newer (live pages only)."""
    series = [(load.cpu_pct, load.mem_pct, load.disk_pct) for load in loads]
    beat, at = view.metrics, view.last_heartbeat_at
    if beat is not None and at is not None and (not loads or at > loads[-1].at):
        series.append((beat.cpu_pct, beat.mem_pct, beat.disk_pct))
    names = ("CPU", "memory", "disk")
    return [sparkline(name, [s[i] for s in series], thresholds) for i, name in enumerate(names)]


async def fleet(services: Services) -> list[PoolSection]:
    """Every pool with its agents; a past state shows what the log held then, no live beat."""
    board = services.views.agents
    views = await reads.with_beats(services, board.select(None, None, None))
    policy = services.settings.health
    thresholds = (policy.degraded_pct, policy.unhealthy_pct)
    rows = [
        AgentRow(v, board.jobs_of(v.agent_id)[0], charts(board.loads_of(v.agent_id), v, thresholds))
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
