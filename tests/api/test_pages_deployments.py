"""The deployments and audit pages over HTTP: what the API recorded is in the HTML itself, the
promote and rollback buttons follow the deploy permission (and the service a token is limited
to), and a past state has no button."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import http_client
from tests.api.helpers import (
    create_deployment,
    create_job,
    go_live,
    ok,
    report,
    role_token,
    roll_back,
    start_job,
)
from tests.api.test_pages import html


def entry(page: str, deployment_id: str) -> str:
    """The HTML of one deployment on the page."""
    found = re.search(rf'<li id="deployment-{deployment_id}".*?\n    </li>', page, re.DOTALL)
    assert found is not None, f"no deployment {deployment_id} on the page"
    return found[0]


async def test_the_board_shows_each_services_versions_rollbacks_and_supersessions(
    client: httpx.AsyncClient,
) -> None:
    first = await go_live(client, service_name="payments", service_version="v1")
    second = await go_live(client, service_name="payments", service_version="v2")
    back = await roll_back(client, second["deployment_id"], reason="errors <spiking>")
    await go_live(client, service_name="search", service_version="s1")
    page = html(await client.get("/deployments", params={"min_seq": back["seq"]}))
    assert 'id="service-payments"' in page
    assert 'id="service-search"' in page
    assert re.search(r"production <strong>v1</strong>", page)  # v1 live again
    rolled = entry(page, second["deployment_id"])
    assert "rolled back" in rolled
    assert "errors &lt;spiking&gt;" in rolled
    assert f'#deployment-{first["deployment_id"]}">v1</a>' in rolled  # the version restored
    assert "live" in entry(page, first["deployment_id"])
    assert page.index(second["deployment_id"]) < page.index(first["deployment_id"])  # newest first


async def test_a_supersession_links_the_later_deployment(client: httpx.AsyncClient) -> None:
    first = await go_live(client, service_name="payments", service_version="v1")
    second = await go_live(client, service_name="payments", service_version="v2")
    page = html(
        await client.get("/deployments?service=payments", params={"min_seq": second["seq"]})
    )
    old = entry(page, first["deployment_id"])
    assert "superseded" in old
    assert f'#deployment-{second["deployment_id"]}"' in old


async def test_one_services_page_holds_only_that_service_page_by_page(
    client: httpx.AsyncClient,
) -> None:
    made = [await create_deployment(client, service_version=f"v{n}") for n in range(3)]
    other = await create_deployment(client, service_name="other")
    first = html(
        await client.get(
            "/deployments", params={"service": "api-backend", "limit": 2, "min_seq": other["seq"]}
        )
    )
    assert other["deployment_id"] not in first
    assert made[2]["deployment_id"] in first
    assert made[0]["deployment_id"] not in first
    older = re.search(r'class="older" href="([^"]+)"', first)
    assert older is not None
    second = html(await client.get(older[1].replace("&amp;", "&")))
    assert made[0]["deployment_id"] in second


async def test_promote_and_rollback_are_offered_to_deployers_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    staged = await create_deployment(client)
    done = await report(client, staged["deployment_id"], "staging")
    tokens = {
        role: await role_token(client, f"page-{role}", role)
        for role in ("viewer", "operator", "deployer")
    }
    tokens["other deployer"] = await role_token(
        client, "page-other", "deployer", service_names=["other-service"]
    )
    buttons = {}
    for who, token in tokens.items():
        async with http_client(app, token=token) as caller:
            page = html(await caller.get("/deployments", params={"min_seq": done["seq"]}))
        buttons[who] = [
            f"promote-{staged['deployment_id']}" in page,
            f'id="rollback-{staged["deployment_id"]}"' in page,
        ]
    assert buttons == {
        "viewer": [False, False],
        "operator": [False, False],
        "deployer": [True, True],
        "other deployer": [False, False],  # its token touches only other-service
    }


async def test_a_deployers_buttons_post_json_through_htmx_and_ask_first(
    client: httpx.AsyncClient,
) -> None:
    live = await go_live(client)
    page = html(await client.get("/deployments", params={"min_seq": live["seq"]}))
    rollback = re.search(rf'<form id="rollback-{live["deployment_id"]}"[^>]*>', page)
    assert rollback is not None
    form = rollback[0]
    assert f'hx-post="/api/dashboard/deployments/{live["deployment_id"]}/rollback"' in form
    assert 'hx-ext="json-enc"' in form
    assert "hx-confirm=" in form
    assert f"promote-{live['deployment_id']}" not in page  # live already


async def test_a_past_state_shows_it_then_without_buttons(client: httpx.AsyncClient) -> None:
    staged = await create_deployment(client)
    before = await report(client, staged["deployment_id"], "staging")
    live = await report(client, staged["deployment_id"], "production")
    then = html(await client.get("/deployments", params={"as_of": before["seq"]}))
    assert 'id="as-of"' in then
    assert "staged" in entry(then, staged["deployment_id"])
    assert "promote-" not in then
    assert 'id="rollback-' not in then
    now = html(await client.get("/deployments", params={"min_seq": live["seq"]}))
    assert f'id="rollback-{staged["deployment_id"]}"' in now


async def test_the_audit_page_shows_a_jobs_events_with_actors_and_an_intact_chain(
    client: httpx.AsyncClient,
) -> None:
    job = await create_job(client)
    started = await start_job(client, job["job_id"], "agent-7")
    path = f"/audit/job/{job['job_id']}"
    page = html(await client.get(path))
    assert 'id="chain-status" class="ok"' in page
    assert page.count('<tr id="event-') == 2
    assert re.search(r"<td>job\.Started</td>\s*<td>service:admin</td>", page)  # type, actor
    assert f'<tr id="event-{started["seq"]}">' in page
    assert page.count("linked <code>") == 2
    earlier = html(await client.get(path, params={"as_of": job["seq"]}))
    assert earlier.count('<tr id="event-') == 1  # the past state: its events up to then
    job_page = html(await client.get(f"/jobs/{job['job_id']}"))
    assert f'id="audit-link" href="{path}"' in job_page


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/deployments?limit=0", 422, "query.limit"),
        ("/deployments?service=", 422, "query.service"),
        ("/deployments?service=nobody", 404, "service nobody not found"),
        ("/deployments?as_of=soon", 422, "query.as_of"),
        ("/audit/job/not-a-uuid", 422, "path.aggregate_id"),
        (f"/audit/job/{uuid4()}", 404, "not found"),
        (f"/audit/spaceship/{uuid4()}", 404, "aggregate kind spaceship not found"),
    ],
)
async def test_bad_input_is_a_4xx_page(
    client: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    assert says in html(await client.get(path), status).lower()


async def test_an_access_aggregates_audit_page_is_for_admins(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    issued = ok(await client.post("/api/auth/tokens", json={"name": "x", "roles": ["viewer"]}), 201)
    viewer = await role_token(client, "audit-viewer", "viewer")
    path = f"/audit/token/{issued['token_id']}"
    assert "token" in html(await client.get(path, params={"min_seq": issued["seq"]}))
    async with http_client(app, token=viewer) as caller:
        assert "needs the admin permission" in html(await caller.get(path), 403)


@pytest.mark.parametrize(
    "path", ["/deployments", "/agents", "/dead-letters", f"/audit/job/{uuid4()}"]
)
async def test_a_page_redirects_to_login_when_no_one_is_logged_in(app: FastAPI, path: str) -> None:
    async with http_client(app, token=None) as anonymous:
        response = await anonymous.get(path)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
