"""The dashboard in a real browser: logging in through the OIDC issuer, the pages showing what
the API recorded, the buttons following the role, and every request staying on the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import ConsoleMessage, Page, expect

from tests.api.helpers import ok
from tests.queue_helpers import NEW_JOB

ALICE = "user:alice@example.com"
BOB = "user:bob@corp.example"
JOBS = "/api/dashboard/jobs"


async def grant(admin: httpx.AsyncClient, principal: str, role: str) -> None:
    ok(await admin.post(f"/api/auth/users/{principal}/roles", json={"role": role}))


async def running_job(admin: httpx.AsyncClient) -> Any:
    """A job reported through the API and started on agent-7; the start's answer."""
    body = NEW_JOB | {"git_commit_message": "Fix the login"}
    job = ok(await admin.post(JOBS, json=body), 201)
    return ok(await admin.patch(f"{JOBS}/{job['job_id']}/start", json={"agent_id": "agent-7"}))


async def log_in(page: Page, served: str, who: str) -> None:
    """The way a person logs in: the dashboard sends them to the login page, they pick the
    provider, approve at the issuer, and come back to the overview."""
    await page.goto(f"{served}/")
    await expect(page).to_have_url(f"{served}/login")
    await page.get_by_role("link", name="corp").click()
    await page.locator("input[name=sub]").fill(who)
    await page.get_by_role("button", name="Authorize").click()
    await expect(page).to_have_url(f"{served}/")


async def test_login_then_the_overview_shows_what_the_api_recorded(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    ok(await admin.post("/api/queue/jobs", json=NEW_JOB | {"pool": "linux"}), 201)
    started = await running_job(admin)
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/?min_seq={started['seq']}")
    await expect(page.locator("#viewer")).to_contain_text(f"{ALICE} (viewer)")
    await expect(page.locator("#jobs-total")).to_have_text("2")
    await expect(page.locator("#running-now")).to_have_text("1")
    await expect(page.locator("#queue-linux-normal td").nth(2)).to_have_text("1")
    for panel in ("throughput-24h", "dora"):
        await expect(page.locator(f"#{panel}")).to_be_attached()


async def test_the_jobs_list_and_the_job_page_show_a_job_the_api_recorded(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    started = await running_job(admin)
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/jobs?min_seq={started['seq']}")
    row = page.locator(f"#job-{started['job_id']}")
    await expect(row).to_contain_text("running")
    await expect(row).to_contain_text("Fix the login")
    await row.get_by_role("link").click()
    await expect(page).to_have_url(f"{served}/jobs/{started['job_id']}")
    await expect(page.locator("#job-timeline")).to_contain_text("running")
    await expect(page.locator("#job-attempts")).to_contain_text("agent-7")


async def test_a_viewer_sees_no_cancel_button_while_an_operator_cancels_with_it(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    await grant(admin, BOB, "operator")
    started = await running_job(admin)
    job_page = f"{served}/jobs/{started['job_id']}?min_seq={started['seq']}"
    await log_in(page, served, "u-alice")
    await page.goto(job_page)
    await expect(page.locator("#job-summary")).to_contain_text("running")
    await expect(page.locator("#cancel-job")).to_have_count(0)

    await page.context.clear_cookies()
    await log_in(page, served, "u-bob")
    await page.goto(job_page)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#cancel-job").click()  # htmx posts it with the session's CSRF header
    await expect(page.locator("#job-summary")).to_contain_text("cancelled")
    await expect(page.locator("#job-timeline")).to_contain_text(f"by {BOB}")
    await expect(page.locator("#cancel-job")).to_have_count(0)


async def test_no_request_leaves_the_servers_origin(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    started = await running_job(admin)
    await log_in(page, served, "u-alice")  # the issuer is another origin; the dashboard is not
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    job_pages = (f"/jobs/{started['job_id']}", f"/audit/job/{started['job_id']}")
    for path in ("/", "/jobs", *job_pages, "/deployments", "/agents", "/dead-letters", "/login"):
        await page.goto(f"{served}{path}", wait_until="networkidle")
        assert await page.evaluate("typeof htmx.createEventSource") == "function", path
    origin = urlsplit(served)
    assert requested
    assert {(urlsplit(url).scheme, urlsplit(url).netloc) for url in requested} == {
        (origin.scheme, origin.netloc)
    }, requested
    assert not errors, errors
