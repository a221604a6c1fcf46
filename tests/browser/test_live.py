"""Live pages in a real browser: what the API records shows on an open page with no reload,
the job page follows its log and says why its job waits, and a restart of the server costs the
page nothing, not even a duplicated row. Every wait is Playwright's, with a deadline."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.api.helpers import ok
from tests.browser.conftest import ServedApi
from tests.browser.test_dashboard import ALICE, grant, log_in
from tests.queue_helpers import NEW_JOB, QUEUE_API, http_agent

LIVE_S = 5_000
"""Playwright's deadline (ms) for a change to show: generous on a shared CI machine; the
product's own figure is bench/sse_fanout.py's."""
RESTART_S = 20_000


async def unreloaded(page: Page) -> None:
    """Marks the document, so that a test can prove later it was never loaded again."""
    await page.evaluate("window.unreloaded = true")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=LIVE_S)


async def still_unreloaded(page: Page) -> None:
    assert await page.evaluate("window.unreloaded === true")


async def enqueue(admin: httpx.AsyncClient, **spec: Any) -> Any:
    return ok(await admin.post(f"{QUEUE_API}/jobs", json=NEW_JOB | spec), 201)


async def test_a_new_job_shows_on_the_open_jobs_page_and_in_the_overview_counts(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    await log_in(page, served, "u-alice")
    overview = page
    await expect(overview.locator("#jobs-total")).to_have_text("0")
    jobs = await page.context.new_page()
    await jobs.goto(f"{served}/jobs")
    for opened in (overview, jobs):
        await unreloaded(opened)

    created = await enqueue(admin)

    await expect(jobs.locator(f"#job-{created['job_id']}")).to_contain_text(
        "queued", timeout=LIVE_S
    )
    await expect(overview.locator("#jobs-total")).to_have_text("1", timeout=LIVE_S)
    for opened in (overview, jobs):
        await still_unreloaded(opened)


async def test_the_job_page_follows_the_log_of_a_running_job(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    agent = await http_agent(admin, "agent-7")
    job_id = (await enqueue(admin))["job_id"]
    assert await agent.must_claim() == job_id
    ok(await agent.call(job_id, "start"))
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/jobs/{job_id}")
    await unreloaded(page)

    lines = page.locator("#job-log-lines span")
    for n in range(1, 4):
        body = {
            "claim_token": agent.tokens[job_id],
            "chunks": [{"stream": "stdout", "text": f"step {n}\n"}],
        }
        ok(await agent.post(f"{QUEUE_API}/jobs/{job_id}/logs", body))
        await expect(lines).to_have_count(n, timeout=LIVE_S)
        await expect(lines.nth(n - 1)).to_have_text(f"step {n}\n")
    ok(await agent.complete(job_id))
    await expect(page.locator("#job-log-end")).to_contain_text("success", timeout=LIVE_S)
    await expect(page.locator("#job-summary")).to_contain_text("success", timeout=LIVE_S)
    await still_unreloaded(page)


async def test_why_the_job_waits_changes_as_its_pool_is_paused_and_resumed(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    job_id = (await enqueue(admin, pool="linux"))["job_id"]
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/jobs/{job_id}")
    await unreloaded(page)
    sentence = page.locator("#why-sentence")
    await expect(sentence).to_contain_text("No agent is registered in pool linux")

    ok(await admin.post(f"{QUEUE_API}/pools/linux/pause", json={"reason": "maintenance"}))
    await expect(sentence).to_contain_text("Pool linux is paused (maintenance)", timeout=LIVE_S)
    ok(await admin.post(f"{QUEUE_API}/pools/linux/resume"))
    await expect(sentence).to_contain_text("No agent is registered in pool linux", timeout=LIVE_S)
    await still_unreloaded(page)


async def test_the_page_reconnects_after_a_server_restart_with_no_duplicated_row(
    page: Page, api_server: ServedApi, admin: httpx.AsyncClient
) -> None:
    served = api_server.url
    await grant(admin, ALICE, "viewer")
    before = [(await enqueue(admin))["job_id"] for _ in range(3)]
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/jobs")
    await unreloaded(page)
    await expect(page.locator("#jobs-table tbody tr")).to_have_count(3)

    api_server.stop()
    await expect(page.locator("#live")).not_to_have_attribute(
        "data-state", "open", timeout=RESTART_S
    )
    api_server.start()
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=RESTART_S)
    after = (await enqueue(admin))["job_id"]

    await expect(page.locator(f"#job-{after}")).to_have_count(1, timeout=LIVE_S)
    ids = await page.locator("#jobs-table tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert sorted(ids) == sorted(f"job-{j}" for j in [*before, after])
    await still_unreloaded(page)
