"""The dashboard's pages for people logged in through a provider: the login page offers the
providers, a first login without a role is told so, and the buttons follow the role."""

from __future__ import annotations

import json
import re

import httpx
from fastapi import FastAPI

from api.auth import CSRF_HEADER
from tests.api.helpers import create_job, ok
from tests.api.login.browser import browser, logged_in

ALICE = "user:alice@example.com"
BOB = "user:bob@corp.example"


async def grant(client: httpx.AsyncClient, principal: str, role: str) -> None:
    ok(await client.post(f"/api/auth/users/{principal}/roles", json={"role": role}))


def page_csrf(page: str) -> str | None:
    """The token htmx sends with the page's writes, from `<body hx-headers=...>`."""
    found = re.search(r"<body hx-headers='([^']*)'", page)
    return None if found is None else str(json.loads(found[1])[CSRF_HEADER])


async def test_the_login_page_offers_every_configured_provider(app: FastAPI) -> None:
    async with browser(app) as visitor:
        redirected = await visitor.jetdeck.get("/jobs")
        page = await visitor.jetdeck.get(redirected.headers["location"])
    assert page.status_code == 200, page.text
    links = re.findall(r'<a class="button" href="([^"]+)">', page.text)
    assert links == [f"/api/auth/login/{name}" for name in ("corp", "github", "lax", "relay")]


async def test_a_first_login_without_a_role_is_told_it_needs_the_read_permission(
    app: FastAPI,
) -> None:
    async with browser(app) as alice:
        await logged_in(alice)
        page = await alice.jetdeck.get("/")
    assert page.status_code == 403, page.text
    assert f"{ALICE} needs the read permission" in page.text


async def test_a_viewer_sees_no_cancel_button_and_an_operator_cancels_with_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    job = await create_job(client)
    await grant(client, ALICE, "viewer")
    await grant(client, BOB, "operator")
    path = f"/jobs/{job['job_id']}"
    async with browser(app) as alice:
        await logged_in(alice)
        seen = await alice.jetdeck.get(path, params={"min_seq": job["seq"]})
        assert seen.status_code == 200, seen.text
        assert 'id="cancel-job"' not in seen.text
        assert page_csrf(seen.text) == (await alice.me())["csrf_token"]
    async with browser(app) as bob:
        await logged_in(bob, who="u-bob")
        page = (await bob.jetdeck.get(path)).text
        button = re.search(r'id="cancel-job" hx-post="([^"]+)"', page)
        assert button is not None
        cancelled = ok(await bob.write("POST", button[1], csrf=page_csrf(page)))
        after = await bob.jetdeck.get(path, params={"min_seq": cancelled["seq"]})
    assert cancelled["status"] == "cancelled"
    assert 'id="cancel-job"' not in after.text
    assert f"by {BOB}" in after.text  # the timeline names who cancelled
