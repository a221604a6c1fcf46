"""The README's screenshots (docs/screenshots/), made by the suite's own browser over data that
real API calls recorded. They rewrite committed files, so they run only when asked:

    JETDECK_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.api.helpers import ok
from tests.browser.test_dashboard import ALICE, JOBS, grant, log_in
from tests.queue_helpers import NEW_JOB, QUEUE_API, http_agent

pytestmark = pytest.mark.skipif(
    os.environ.get("JETDECK_SCREENSHOTS") != "1",
    reason="rewrites docs/screenshots/: set JETDECK_SCREENSHOTS=1 to make them",
)

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
VIEWPORT = ViewportSize(width=1280, height=800)
DEPLOYMENTS = "/api/dashboard/deployments"
RUN_S = 2.0
"""How long the jobs run: long enough for their durations to read as durations."""
OUTCOMES = ["success"] * 5 + ["failed", "success", "success", "timeout", "success"]
COMMITS = [
    "Retry the settlement call when the bank gateway times out",
    "Cache exchange rates for five minutes",
    "Fix rounding of refunds in yen",
    "Log the merchant id with every declined payment",
]


def sha(n: int) -> str:
    return f"{n:04d}c0ffee{n:04d}".ljust(40, "0")


async def reported_job(admin: httpx.AsyncClient, n: int, agent: str) -> str:
    """A job a CI service reports, started on `agent`; its id."""
    body = NEW_JOB | {
        "job_type": ["build", "test", "lint"][n % 3],
        "git_repo": "acme/payments-service",
        "git_commit_sha": sha(n // 3),
        "git_commit_message": COMMITS[n % len(COMMITS)],
        "git_author": "alice@example.com",
    }
    job_id: str = ok(await admin.post(JOBS, json=body), 201)["job_id"]
    ok(await admin.patch(f"{JOBS}/{job_id}/start", json={"agent_id": agent}))
    return job_id


async def finish(admin: httpx.AsyncClient, job_id: str, outcome: str) -> None:
    code = 0 if outcome == "success" else 1
    report = {"status": outcome, "exit_code": code, "summary": f"{outcome}: 412 tests"}
    ok(await admin.patch(f"{JOBS}/{job_id}/complete", json=report))


async def deploy(admin: httpx.AsyncClient, service: str, n: int, production: str) -> Any:
    """A deployment of commit `sha(n)` through staging, then production with `production`."""
    body = {
        "service_name": service,
        "service_version": f"v1.{n}.0",
        "git_commit_sha": sha(n),
        "git_commit_message": COMMITS[n % len(COMMITS)],
        "git_author": "bob@example.com",
    }
    created = ok(await admin.post(DEPLOYMENTS, json=body), 201)
    path = f"{DEPLOYMENTS}/{created['deployment_id']}"
    ok(await admin.post(f"{path}/staging", json={"outcome": "succeeded"}))
    return ok(await admin.post(f"{path}/production", json={"outcome": production}))


async def recorded_day(admin: httpx.AsyncClient) -> dict[str, Any]:
    """Agents in a pool, finished jobs, a queue, releases with a failure and a rollback; the
    ids the screenshots show, and the last write's sequence."""
    agents = [await http_agent(admin, f"linux-{n}", pool="linux") for n in range(3)]
    jobs = [await reported_job(admin, n, agents[n % 3].agent_id) for n in range(24)]
    await asyncio.sleep(RUN_S)
    for n, job_id in enumerate(jobs):
        await finish(admin, job_id, OUTCOMES[n % len(OUTCOMES)])
    for priority in ("high", "normal", "normal", "low"):
        job = NEW_JOB | {"pool": "linux", "priority": priority}
        ok(await admin.post(f"{QUEUE_API}/jobs", json=job), 201)
    await agents[0].must_claim()
    for n in range(4):
        await deploy(admin, "payments", n, "succeeded")
    await deploy(admin, "payments", 4, "failed")
    await deploy(admin, "payments", 5, "succeeded")
    web = await deploy(admin, "web", 6, "succeeded")
    rollback = {"reason": "error rate above 2% after release"}
    last = ok(await admin.post(f"{DEPLOYMENTS}/{web['deployment_id']}/rollback", json=rollback))
    return {"failed_job": jobs[5], "seq": last["seq"]}


async def shoot(page: Page, url: str, name: str) -> None:
    await page.goto(url, wait_until="networkidle")
    await page.screenshot(path=SHOTS / name, animations="disabled")


async def test_screenshots_of_the_overview_a_job_and_a_deployment_timeline(
    page: Page, served: str, admin: httpx.AsyncClient
) -> None:
    await grant(admin, ALICE, "operator")
    made = await recorded_day(admin)
    SHOTS.mkdir(exist_ok=True)
    await page.set_viewport_size(VIEWPORT)
    await log_in(page, served, "u-alice")
    await page.goto(f"{served}/?min_seq={made['seq']}")
    chart = page.locator("#throughput-24h")
    await expect(chart).to_contain_text("Succeeded: 20")
    # The figures above fit in the viewport's first screen; this one shows the chart and tiles.
    await page.evaluate(
        "top => window.scrollTo(0, top)", await chart.evaluate("e => e.offsetTop - 16")
    )
    await page.screenshot(path=SHOTS / "overview.png", animations="disabled")
    await shoot(page, f"{served}/jobs/{made['failed_job']}", "job.png")
    await shoot(page, f"{served}/deployments?service=payments", "deployments.png")
    for name in ("overview.png", "job.png", "deployments.png"):
        assert (SHOTS / name).stat().st_size > 10_000, name
