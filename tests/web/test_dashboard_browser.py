"""The dashboard in a real browser: Debian's chromium (scripts/system-deps) driven by
Playwright against a live server with tokens on. Screenshots of each page are saved under
tests/artifacts/dashboard/ (or $JOBSVC_ARTIFACTS/dashboard/) and their paths printed."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from tests.conftest import REPO, StartServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed (scripts/system-deps)"),
]

ADMIN, READER = "tok-dashboard-admin-5e1f", "tok-dashboard-reader-77aa"
TOKENS = f"admin:submit,call,read,admin,stream:{token_digest(ADMIN)} reader:read,stream:{token_digest(READER)}"
ARTIFACTS = Path(os.environ.get("JOBSVC_ARTIFACTS", REPO / "tests" / "artifacts")) / "dashboard"
TIMEOUT_MS = 15_000


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def _call(http: httpx.AsyncClient, method: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"/jobsvc.v1.{method}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _signed_in(browser: Any, base: str, token: str, problems: list[str]) -> Any:
    """A page of a fresh browser context that has given `token` in the token dialog; the
    page's script errors and policy violations are added to `problems`."""
    # The dashboard's Content-Security-Policy applies (no bypass): what it forbids would fail here.
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    # Answers with an error status are logged by the browser as "Failed to load resource"; not a problem.
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(base + "/")
    await page.fill("#token-input", token)
    await page.click("#token-form button[type=submit]")
    await page.wait_for_selector("#overview tbody tr")
    return page


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll the page through locators (wait_for_function would evaluate a string, which the
    dashboard's policy forbids) until `check` holds; bounded."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def _states(page: Any) -> list[str]:
    """The state badges of the jobs table's rows."""
    return [await cell.get_attribute("data-state") for cell in await page.locator("#jobs tbody [data-state]").all()]


async def _shot(page: Any, name: str, shots: list[Path]) -> None:
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    shots.append(path)


async def test_the_dashboard_in_a_browser(start_server: StartServer, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = await start_server(http_port=0, auth=AuthConfig(tokens=TOKENS))
    base = f"http://127.0.0.1:{server.http_port}"
    shots: list[Path] = []
    headers = {"authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        await _call(
            http,
            "ScheduleService/CreateSchedule",
            {"schedule": {"name": "hourly-echo", "job": {"handler": "echo"}, "interval": "3600s"}},
        )
        running = (await _call(http, "SubmitService/Submit", {"job": {"handler": "wait_cancel"}}))["job"]["id"]
        dead = (await _call(http, "CallService/Call", {"job": {"handler": "fail", "input": {"json": "x"}}}))["job"]
        assert dead["state"] == "JOB_STATE_FAILED"
        for value in range(3):
            await _call(http, "SubmitService/Submit", {"job": {"handler": "echo", "input": {"json": value}}})

        problems: list[str] = []
        page = await _signed_in(browser, base, ADMIN, problems)
        await page.wait_for_selector('#overview tr[data-handler="fail"]')
        assert "failure rate" in await page.inner_text("#throughput figcaption")
        assert await page.locator("#throughput rect.bar-bad").count() >= 1
        await _shot(page, "01-overview", shots)

        # One job's progress and result appear live, without a reload.
        steps = {"handler": "steps", "input": {"json": {"count": 5, "pause": 0.4}}}
        watched = (await _call(http, "SubmitService/Submit", {"job": steps}))["job"]["id"]
        await page.goto(f"{base}/#/jobs/{watched}")
        progress = page.locator("#progress")
        await _until(lambda: _between(progress, 0, 100), "the progress bar part-way")
        await _shot(page, "02-job-running", shots)
        await page.wait_for_selector("#result-value")
        assert '"steps": 5' in await page.inner_text("#result-value")
        assert await page.inner_text("#job-state") == "SUCCEEDED"
        assert await page.locator("#timeline li").count() >= 12  # queued, started, 5 x (progress, output), succeeded
        await _shot(page, "03-job-succeeded", shots)

        # Cancel a running job.
        await page.goto(f"{base}/#/jobs/{running}")
        await page.wait_for_selector("#job-state >> text=RUNNING")
        await page.click("button:has-text('Cancel')")
        await page.wait_for_selector("#job-state >> text=CANCELLED")
        await _shot(page, "04-job-cancelled", shots)

        # Redrive a dead one: the page moves to the new job.
        await page.goto(f"{base}/#/jobs/{dead['id']}")
        await page.wait_for_selector("#result details")  # its attempt's error and traceback
        await page.click("button:has-text('Redrive')")
        await _until(lambda: _true(not page.url.endswith(dead["id"])), "the page moved to the new job")
        await page.wait_for_selector(f"text=Redrive of >> xpath=.. >> text={dead['id']}")
        await _shot(page, "05-job-redriven", shots)

        # Pause a schedule.
        await page.goto(f"{base}/#/schedules")
        row = page.locator('tr[data-schedule="hourly-echo"]')
        await row.locator("button:has-text('Pause')").click()
        await row.locator("td.schedule-state >> text=paused").wait_for()
        await _shot(page, "06-schedules", shots)
        schedule = await _call(http, "ScheduleService/GetSchedule", {"name": "hourly-echo"})
        assert schedule["schedule"]["paused"] is True

        # Filter the jobs table.
        await page.goto(f"{base}/#/jobs")
        await page.wait_for_selector("#jobs tbody tr[data-job]")
        await page.select_option("#filter-state", "FAILED")
        await page.click("form.filters button[type=submit]")
        await _until(lambda: _true("state=FAILED" in page.url), "the filter in the address")
        await _until(lambda: _all(page, "FAILED"), "only failed jobs listed")
        await _shot(page, "07-jobs-failed", shots)
        await page.fill("#filter-handler", "echo")
        await page.select_option("#filter-state", "SUCCEEDED")
        await page.click("form.filters button[type=submit]")
        await _until(lambda: _count(page, 3), "the 3 echo jobs listed")
        await _shot(page, "08-jobs-echo", shots)
        # The dead-letter queue of one handler, redriven at once.
        await page.fill("#filter-handler", "fail")
        await page.select_option("#filter-state", "FAILED")
        await page.click("form.filters button[type=submit]")
        await page.click("#redrive-all")
        await page.wait_for_selector(".flash >> text=redriven")
        assert "1 failed job(s) of fail redriven" in await page.inner_text(".flash")
        await page.goto(f"{base}/#/handlers")
        await page.wait_for_selector('#handlers tr[data-handler="steps"]')
        await _shot(page, "12-handlers", shots)
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{base}/#/jobs/{watched}")
        await page.wait_for_selector("#result-value")
        await _shot(page, "11-phone-job", shots)
        await page.context.close()

        # A read token sees everything, and cannot act.
        reader = await _signed_in(browser, base, READER, problems)
        assert "read-only" in await reader.inner_text("#who")
        another = (await _call(http, "SubmitService/Submit", {"job": {"handler": "wait_cancel"}}))["job"]["id"]
        await reader.goto(f"{base}/#/jobs/{another}")
        await reader.wait_for_selector("#job-state >> text=RUNNING")
        assert await reader.locator("button:has-text('Cancel')").is_disabled()
        await _shot(reader, "09-read-token-job", shots)
        await reader.goto(f"{base}/#/schedules")
        await reader.wait_for_selector('tr[data-schedule="hourly-echo"]')
        assert await reader.locator('tr[data-schedule="hourly-echo"] button').is_disabled()
        await _shot(reader, "10-read-token-schedules", shots)
        await reader.context.close()
        await _call(http, "JobService/CancelJob", {"id": another})
    assert not problems, problems  # no script error, nothing the Content-Security-Policy refused
    print("\ndashboard screenshots:\n" + "\n".join(f"  {p}" for p in shots))


async def _true(value: bool) -> bool:
    return value


async def _between(progress: Any, low: float, high: float) -> bool:
    value = float(await progress.get_attribute("value") or 0)
    return low < value < high


async def _all(page: Any, state: str) -> bool:
    states = await _states(page)
    return bool(states) and all(s == state for s in states)


async def _count(page: Any, rows: int) -> bool:
    return await page.locator("#jobs tbody tr[data-job]").count() == rows
