"""The agents and dead-letter pages over HTTP: pools with their limits and scaling, agents with
the load of their recent heartbeats as SVG sparklines and the jobs they run, dead letters with
their reason, and the operators' buttons only for operators, on the live state."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.pages.sparkline import percent_y
from infra.recent_beats import SAMPLES
from tests.api.conftest import http_client
from tests.api.helpers import ok, role_token
from tests.api.test_pages import html
from tests.queue_helpers import QUEUE_API, HttpAgent, eventually, http_agent, post_job


def row(page: str, element_id: str) -> str:
    found = re.search(rf'<tr id="{element_id}">.*?</tr>', page, re.DOTALL)
    assert found is not None, f"no row {element_id}"
    return found[0]


async def beat(agent: HttpAgent, cpu: float) -> None:
    body = {"cpu_pct": cpu, "mem_pct": 40.0, "disk_pct": 20.0}
    ok(await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", body))


async def row_once_heard(client: httpx.AsyncClient, agent: HttpAgent, says: str) -> str:
    """The agent's row once its CPU sparkline's label says `says`: the page hears beats through
    a subscription, a moment after the heartbeat's answer."""
    seen = [""]

    async def heard() -> bool:
        seen[0] = row(html(await client.get("/agents")), f"agent-{agent.agent_id}")
        return f'aria-label="CPU over the last {says}' in seen[0]

    await eventually(heard, 5.0, f"the CPU sparkline of {agent.agent_id} says {says}")
    return seen[0]


def cpu_ys(agent_row: str) -> list[float]:
    """The y of each point of the row's first sparkline, CPU's, oldest first."""
    points = re.search(r'<polyline points="([^"]*)"/>', agent_row)
    assert points is not None
    return [float(point.split(",")[1]) for point in points[1].split()]


async def test_a_pool_shows_its_limits_and_its_agents_with_their_load_and_jobs(
    client: httpx.AsyncClient,
) -> None:
    pool = {"name": "linux", "min_agents": 1, "max_agents": 4}
    ok(await client.post("/api/pools", json=pool), 201)
    agent = await http_agent(client, "builder-1", pool="linux")
    await beat(agent, 90.0)  # degraded: a change of health, whose figures the log keeps
    queued = await post_job(client, pool="linux")
    job_id = await agent.must_claim()
    await row_once_heard(client, agent, "2 readings")  # the registration's first beat, then 90%
    page = html(await client.get("/agents", params={"min_seq": queued["seq"]}))
    assert '<section id="pool-linux"' in page
    assert re.search(r"<dt>Min</dt><dd>1</dd>.*<dt>Max</dt><dd>4</dd>", page, re.DOTALL)
    assert 'id="pool-linux-actual">1<' in page
    assert re.search(r'id="pool-linux-desired">\d+<', page)
    agent_row = row(page, f"agent-{agent.agent_id}")
    assert "builder-1" in agent_row
    assert "degraded" in agent_row
    assert f'href="/jobs/{job_id}"' in agent_row
    assert agent_row.count('<svg class="spark"') == 3  # CPU, memory, disk
    assert 'aria-label="CPU over the last 2 readings, now 90%"' in agent_row
    assert re.search(r'<polyline points="0\.0,[\d.]+ 96\.0,2\.4"/>', agent_row)  # 90% near the top


async def test_the_sparklines_show_the_recent_heartbeats_in_order_and_a_past_state_none(
    client: httpx.AsyncClient,
) -> None:
    agent = await http_agent(client, "steady")  # its first beat: 5%
    for cpu in (10.0, 30.0, 20.0, 40.0):  # all healthy: no change of health, so no event
        await beat(agent, cpu)
    agent_row = await row_once_heard(client, agent, "5 readings, now 40%")
    assert agent_row.count('<svg class="spark"') == 3  # CPU, memory, disk
    assert cpu_ys(agent_row) == [percent_y(v) for v in (5, 10, 30, 20, 40)]
    assert 'aria-label="memory over the last 5 readings, now 40%"' in agent_row
    drained = ok(await client.post(f"/api/agents/{agent.agent_id}/drain"))
    past = row(
        html(await client.get("/agents", params={"as_of": drained["seq"]})),
        f"agent-{agent.agent_id}",
    )
    assert "steady" in past
    assert '<svg class="spark"' not in past  # heartbeats are live only


async def test_the_sparklines_keep_only_the_newest_beats(client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "chatty")
    sent = [float(n) for n in range(SAMPLES + 5)]
    for cpu in sent:
        await beat(agent, cpu)
    agent_row = await row_once_heard(client, agent, f"{SAMPLES} readings, now {sent[-1]:.0f}%")
    assert cpu_ys(agent_row) == [percent_y(v) for v in sent[-SAMPLES:]]


async def test_the_drain_resume_and_deregister_buttons_are_for_operators_on_the_live_state(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await http_agent(client, "builder-1")
    tokens = {
        role: await role_token(client, f"fleet-{role}", role) for role in ("viewer", "operator")
    }
    seen: dict[str, list[bool]] = {}
    for who, token in tokens.items():
        async with http_client(app, token=token) as caller:
            page = html(await caller.get("/agents"))
        seen[who] = [
            f'id="{b}-{agent.agent_id}"' in page for b in ("drain", "resume", "deregister")
        ]
    assert seen == {"viewer": [False, False, False], "operator": [True, False, True]}
    drained = ok(await client.post(f"/api/agents/{agent.agent_id}/drain"))
    page = html(await client.get("/agents", params={"min_seq": drained["seq"]}))
    assert f'id="resume-{agent.agent_id}"' in page
    assert f'id="drain-{agent.agent_id}"' not in page
    assert 'hx-confirm="Deregister builder-1?' in page
    past = html(await client.get("/agents", params={"as_of": drained["seq"]}))
    assert "draining" in row(past, f"agent-{agent.agent_id}")
    assert f'-{agent.agent_id}" hx-' not in past  # no button at all


async def dead_letter(client: httpx.AsyncClient) -> Any:
    """A job failed for good by its agent; the failure's answer."""
    job = await post_job(client)
    agent = await http_agent(client, "failing")
    await agent.must_claim()
    return ok(await agent.fail(job["job_id"], retryable=False))


async def test_dead_letters_show_their_reason_and_a_retry_for_operators(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    dead = await dead_letter(client)
    job_id = dead["job_id"]
    page = html(await client.get("/dead-letters", params={"min_seq": dead["seq"]}))
    letter = row(page, f"dead-letter-{job_id}")
    assert "failure is not retryable: exit 1" in letter
    assert f'hx-post="{QUEUE_API}/dead-letters/{job_id}/retry"' in letter
    viewer = await role_token(client, "letters-viewer", "viewer")
    async with http_client(app, token=viewer) as caller:
        seen = html(await caller.get("/dead-letters"))
    assert f'id="dead-letter-{job_id}"' in seen
    assert f'id="retry-{job_id}"' not in seen
    retried = ok(await client.post(f"{QUEUE_API}/dead-letters/{job_id}/retry", json={}))
    after = html(await client.get("/dead-letters", params={"min_seq": retried["seq"]}))
    assert f'id="dead-letter-{job_id}"' not in after
    then = html(await client.get("/dead-letters", params={"as_of": dead["seq"]}))
    assert f'id="dead-letter-{job_id}"' in then
    assert f'id="retry-{job_id}"' not in then


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/agents?as_of=yesterday", 422, "query.as_of"),
        ("/agents?as_of=999999", 422, "beyond the log"),
        ("/dead-letters?limit=0", 422, "query.limit"),
        ("/dead-letters?cursor=-1", 422, "query.cursor"),
    ],
)
async def test_bad_input_is_a_4xx_page(
    client: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    assert says in html(await client.get(path), status).lower()
