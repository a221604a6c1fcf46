"""The deployments and job pages' buttons in a real browser, and the as-of picker: a viewer sees
no rollback while a deployer rolls back (confirming first), an operator retries a dead letter
from its job page, and the picker shows an earlier state of the page it is on."""

from __future__ import annotations

import httpx
from playwright.async_api import Dialog, Page, expect

from tests.api.helpers import ok
from tests.browser.test_dashboard import ALICE, BOB, JOBS, grant, log_in
from tests.queue_helpers import NEW_JOB, QUEUE_API, http_agent

DEPLOYMENTS = "/api/dashboard/deployments"


async def live(admin: httpx.AsyncClient, version: str) -> str:
    """A deployment of `payments` taken through staging to production; its id."""
    body = {
        "service_name": "payments",
        "service_version": version,
        "git_commit_sha": "abc123def456",
    }
    deployment_id: str = ok(await admin.post(DEPLOYMENTS, json=body), 201)["deployment_id"]
    for env in ("staging", "production"):
        path = f"{DEPLOYMENTS}/{deployment_id}/{env}"
        ok(await admin.post(path, json={"outcome": "succeeded"}))
    return deployment_id


async def test_a_viewer_sees_no_rollback_while_a_deployer_rolls_back(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    await grant(admin, BOB, "deployer")
    await live(admin, "v1")
    v2 = await live(admin, "v2")
    board = f"{served}/deployments"
    await log_in(page, served, "u-alice")
    await page.goto(board)
    await expect(page.locator("#service-payments-live")).to_contain_text("production v2")
    await expect(page.locator(f"#deployment-{v2}")).to_contain_text("live")
    await expect(page.locator(f"#rollback-{v2}")).to_have_count(0)

    await page.context.clear_cookies()
    await log_in(page, served, "u-bob")
    await page.goto(board)
    form = page.locator(f"#rollback-{v2}")
    await form.get_by_role("textbox").fill("error rate doubled")
    asked: list[str] = []

    async def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", confirm)
    await form.get_by_role("button", name="Roll back").click()
    await expect(page.locator(f"#rollback-of-{v2}")).to_contain_text("error rate doubled")
    await expect(page.locator(f"#rollback-of-{v2}")).to_contain_text("restored v1")
    await expect(page.locator("#service-payments-live")).to_contain_text("production v1")
    await expect(page.locator(f"#rollback-{v2}")).to_have_count(0)
    assert asked == ["Roll back payments v2?"]


async def test_an_operator_retries_a_dead_lettered_job_from_its_page(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, BOB, "operator")
    job_id = ok(await admin.post(f"{QUEUE_API}/jobs", json=NEW_JOB), 201)["job_id"]
    agent = await http_agent(admin, "flaky")
    await agent.must_claim()
    dead = ok(await agent.fail(job_id, retryable=False))
    await log_in(page, served, "u-bob")
    await page.goto(f"{served}/jobs/{job_id}?min_seq={dead['seq']}")
    await expect(page.locator("#job-summary")).to_contain_text("dead lettered")
    await page.locator("#retry-job").click()
    await expect(page.locator("#job-summary")).to_contain_text("queued")
    await expect(page.locator("#job-timeline")).to_contain_text(f"by {BOB}")
    await expect(page.locator("#retry-job")).to_have_count(0)


async def test_the_as_of_picker_shows_the_page_as_it_stood_then(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "viewer")
    created = ok(await admin.post(JOBS, json=NEW_JOB), 201)
    path = f"{JOBS}/{created['job_id']}/start"
    started = ok(await admin.patch(path, json={"agent_id": "agent-7"}))
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/jobs/{created['job_id']}?min_seq={started['seq']}")
    await expect(page.locator("#job-timeline li")).to_have_count(2)
    await expect(page.locator("#as-of")).to_have_count(0)

    await page.locator("#as-of-picker input[name=as_of]").fill(str(created["seq"]))
    await page.locator("#as-of-picker").get_by_role("button", name="View").click()
    await expect(page.locator("#as-of")).to_contain_text(f"stream sequence {created['seq']}")
    await expect(page.locator("#job-timeline li")).to_have_count(1)
    await expect(page.locator("#job-summary")).not_to_contain_text("running")
    await expect(page.locator("#as-of-picker input[name=as_of]")).to_have_value(str(created["seq"]))
    await page.locator("#as-of").get_by_role("link", name="Back to live").click()
    await expect(page.locator("#job-timeline li")).to_have_count(2)


async def test_a_deployer_promotes_a_staged_deployment(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, BOB, "deployer")
    body = {"service_name": "search", "service_version": "s1", "git_commit_sha": "abc123def456"}
    staged = ok(await admin.post(DEPLOYMENTS, json=body), 201)["deployment_id"]
    ok(await admin.post(f"{DEPLOYMENTS}/{staged}/staging", json={"outcome": "succeeded"}))
    await log_in(page, served, "u-bob")
    await page.goto(f"{served}/deployments?service=search")
    await expect(page.locator(f"#deployment-{staged}")).to_contain_text("staged")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator(f"#promote-{staged}").click()  # its JSON body names the outcome
    await expect(page.locator("#service-search-live")).to_contain_text("production s1")
    await expect(page.locator(f"#promote-{staged}")).to_have_count(0)
