"""The overview's throughput chart and DORA tiles over HTTP: the figures the API recorded, the
definitions `wire.dora` gives, a bad window as a 4xx page, and a past state that equals a fresh
fold of the log up to it."""

from __future__ import annotations

import html as markup
import re
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from api.pages.dora_tiles import code_spans
from infra.services import Services
from tests.api.helpers import complete_job, create_job, go_live, ok, start_job
from tests.api.test_as_of import write
from tests.integration.helpers import folded
from wire.dora import ChangeFailureRate, DeploymentFrequency

ROW = re.compile(r"<tr><th scope=\"row\">([^<]+)</th><td>(\d+)</td><td>(\d+)</td></tr>")


def page(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def region(text: str, start: str, end: str) -> str:
    found = re.search(f"{re.escape(start)}.*?{re.escape(end)}", text, re.DOTALL)
    assert found is not None, start
    return found[0]


def tile(text: str, key: str) -> str:
    return region(text, f'<article class="dora-tile" id="dora-{key}"', "</article>")


async def test_the_chart_counts_the_jobs_finished_this_hour_by_outcome(
    client: httpx.AsyncClient,
) -> None:
    for status in ("success", "success", "failed", "timeout"):
        job = await create_job(client)
        await start_job(client, job["job_id"])
        last = await complete_job(client, job["job_id"], status, 0 if status == "success" else 1)
    await create_job(client)  # not finished: not counted
    text = page(await client.get("/", params={"min_seq": last["seq"]}))
    chart = region(text, '<section id="throughput-24h"', "</section>")
    rows = ROW.findall(chart)
    assert len(rows) == 24
    assert [(s, o) for _, s, o in rows] == [("0", "0")] * 23 + [("2", "2")]
    assert chart.count('<g class="bar"') == 24
    assert "2 succeeded, 2 failed or other; at most 4 in one hour" in chart


async def test_the_tiles_show_the_json_routes_figures_with_their_definitions(
    client: httpx.AsyncClient,
) -> None:
    live = await go_live(client, service_name="payments")
    text = page(await client.get("/", params={"days": 7, "min_seq": live["seq"]}))
    figures = ok(await client.get("/api/dashboard/metrics/dora", params={"days": 7}))
    frequency = tile(text, "deployment_frequency")
    assert f"{figures['deployment_frequency']['per_day']:.2f} a day" in frequency
    assert "1 deployments in 7 days" in frequency
    description = DeploymentFrequency.model_fields["per_day"].description or ""
    assert str(code_spans(description)) in frequency
    assert "<code>deployments</code> divided by" in frequency
    failures = tile(text, "change_failure_rate")
    assert '<p class="figure">0%</p>' in failures
    counted = ChangeFailureRate.model_fields["deployments"].description or ""
    assert markup.escape(counted, quote=False).replace("`", "") in failures.replace(
        "<code>", ""
    ).replace("</code>", "")
    windows = region(text, '<p class="windows"', "</p>")
    assert re.search(r'href="/\?[^"]*days=7" aria-current="true">7 days', windows)
    assert re.search(r'href="/\?min_seq=\d+&amp;days=90">90 days', windows)  # keeps the query


async def test_a_metric_without_a_figure_shows_a_dash_and_why(client: httpx.AsyncClient) -> None:
    text = page(await client.get("/"))  # default window, nothing deployed
    restore = tile(text, "time_to_restore")
    assert '<p class="figure">—</p>' in restore
    assert "no production failure in the window" in restore
    lead = tile(text, "lead_time")
    assert '<p class="figure">—</p>' in lead
    assert "no change went live in the window" in lead
    assert re.search(r'aria-current="true">30 days', text)


@pytest.mark.parametrize("days", ["5", "month", "-7", ""])
async def test_a_bad_window_is_a_422_page(client: httpx.AsyncClient, days: str) -> None:
    assert "query.days" in page(await client.get("/", params={"days": days}), 422)


def panels(text: str) -> tuple[str, str]:
    """The chart and the tiles; the window links differ, since they carry the page's query."""
    return (
        region(text, '<section id="throughput-24h"', "</section>"),
        region(text, '<div class="dora-tiles">', "</section>"),
    )


async def test_as_of_a_sequence_shows_the_panels_of_a_fresh_fold_to_there(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    await write(client, jobs=10)
    await services.runner.catch_up(5)
    await services.runner.save_snapshot()
    below = services.runner.snapshot_seq
    await write(client, jobs=5)
    await services.runner.catch_up(5)
    for seq in (4, below - 3, below, below + 7, services.runner.position):
        past = panels(page(await client.get("/", params={"as_of": seq})))
        app.state.services = replace(services, views=await folded(services, seq), as_of_seq=seq)
        try:
            fresh = panels(page(await client.get("/")))
        finally:
            app.state.services = services
        assert past == fresh, seq
