"""The dashboard's pages over HTTP, without a browser: who gets in, that the HTML itself holds
the data (so reading needs no JavaScript), and that bad input is a 4xx page."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from api.pages.assets import HTMX, HTMX_SSE
from tests.api.conftest import http_client
from tests.api.helpers import create_job, ok, start_job
from tests.queue_helpers import NEW_JOB, QUEUE_API, http_agent

PAGES = ["/", "/dashboard", "/jobs", f"/jobs/{uuid4()}"]
ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"')


def html(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_redirects_to_login_when_no_one_is_logged_in(app: FastAPI, path: str) -> None:
    async with http_client(app, token=None) as anonymous:
        response = await anonymous.get(path)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


async def test_the_login_page_is_public_and_says_when_no_provider_is_configured(
    app: FastAPI,
) -> None:
    async with http_client(app, token=None) as anonymous:
        page = html(await anonymous.get("/login"))
    assert "No login provider is configured" in page


async def test_the_overview_holds_the_figures_without_javascript(
    client: httpx.AsyncClient,
) -> None:
    await http_agent(client, "builder", pool="linux")
    queued = ok(await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | {"pool": "linux"}), 201)
    page = html(await client.get("/", params={"min_seq": queued["seq"]}))
    assert 'id="jobs-total">1<' in page
    waiting = re.search(r'<tr id="queue-linux-normal">(.*?)</tr>', page, re.DOTALL)
    assert waiting is not None
    assert re.findall(r"<td[^>]*>([^<]*)</td>", waiting[1])[:3] == ["linux", "normal", "1"]
    assert re.search(
        r'<tr id="agents-linux"><td>linux</td>\s*<td class="num">0</td>\s*'
        r'<td class="num">1</td>',
        page,
    )  # registering 0, healthy 1
    for panel in ("summary", "queue", "agents", "live-versions", "throughput-24h", "dora"):
        assert f'<section id="{panel}"' in page, panel
    assert html(await client.get("/dashboard")).count('id="jobs-total"') == 1


async def test_the_jobs_list_and_the_job_page_show_a_job_without_javascript(
    client: httpx.AsyncClient,
) -> None:
    job = await create_job(client, git_repo="org/web", git_commit_message="Fix <b>login</b>")
    started = await start_job(client, job["job_id"], "agent-7")
    listing = html(await client.get("/jobs", params={"min_seq": started["seq"]}))
    assert f'id="job-{job["job_id"]}"' in listing
    assert "org/web@main" in listing
    assert "Fix &lt;b&gt;login&lt;/b&gt;" in listing  # escaped: commit messages are anyone's
    detail = html(await client.get(f"/jobs/{job['job_id']}"))
    assert "running" in detail
    assert "agent-7" in detail
    assert f'href="/api/audit/job/{job["job_id"]}"' in detail


async def test_the_jobs_list_filters_as_the_json_list_does(client: httpx.AsyncClient) -> None:
    web = await create_job(client, git_repo="org/web")
    api = await create_job(client, git_repo="org/api")
    page = html(await client.get("/jobs", params={"repo": "org/api", "min_seq": api["seq"]}))
    assert f'id="job-{api["job_id"]}"' in page
    assert f'id="job-{web["job_id"]}"' not in page
    everything = html(await client.get("/jobs", params={"repo": "", "status": "", "ref": ""}))
    assert f'id="job-{web["job_id"]}"' in everything  # a form's empty fields filter nothing


async def test_the_jobs_list_pages_with_the_json_lists_cursor(client: httpx.AsyncClient) -> None:
    jobs = [await create_job(client) for _ in range(3)]
    first = html(await client.get("/jobs", params={"limit": 2, "min_seq": jobs[-1]["seq"]}))
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    assert found is not None
    second = html(await client.get(found[1].replace("&amp;", "&")))
    assert f'id="job-{jobs[0]["job_id"]}"' in second
    assert f'id="job-{jobs[2]["job_id"]}"' not in second


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/jobs?status=sleeping", 422, "query.status"),
        ("/jobs?limit=0", 422, "query.limit"),
        ("/jobs/not-a-uuid", 422, "path.job_id"),
        (f"/jobs/{uuid4()}", 404, "not found"),
        ("/?as_of=yesterday", 422, "query.as_of"),
    ],
)
async def test_bad_input_is_a_4xx_page(
    client: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    assert says in html(await client.get(path), status).lower()


async def test_a_page_needs_the_read_permission(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = await http_agent(client, "pages")
    async with http_client(app, token=agent.agent_token) as as_agent:
        page = html(await as_agent.get("/"), 403)
    assert "needs the read permission" in page


async def test_a_page_loads_only_assets_of_its_own_origin(client: httpx.AsyncClient) -> None:
    page = html(await client.get("/"))
    assets = ASSET.findall(page)
    assert HTMX in assets
    assert HTMX_SSE in assets
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    for url in assets:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert "immutable" in served.headers["cache-control"]
