"""The dashboard in a real browser: Debian's chromium (scripts/system-deps) driven by
Playwright against a live server with tokens on. Screenshots of each page are saved under
tests/artifacts/dashboard/ (or $JOBSVC_ARTIFACTS/dashboard/) and their paths printed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from jobsvc.api.auth import AuthConfig, token_digest
from jobsvc.domain.handlers import HandlerTable, load_module
from jobsvc.sdk import ClientSecurity, RemoteWorker, WorkerConfig
from tests.conftest import REPO, StartServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed (scripts/system-deps)"),
]

ADMIN, READER, WORKER = "tok-dashboard-admin-5e1f", "tok-dashboard-reader-77aa", "tok-dashboard-worker-31c9"
TOKENS = (
    f"admin:submit,call,read,admin,stream:{token_digest(ADMIN)} reader:read,stream:{token_digest(READER)}"
    f" worker:work:{token_digest(WORKER)}"
)
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


async def _signed_in(browser: Any, base: str, token: str, problems: list[str], **options: Any) -> Any:
    """A page of a fresh browser context (with Playwright's context `options`) that has given
    `token` in the token dialog; the page's script errors and policy violations are added
    to `problems`."""
    # The dashboard's Content-Security-Policy applies (no bypass): what it forbids would fail here.
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, **options)
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


def _step(name: str, handler: str, value: Any = None, *parents: str) -> dict[str, Any]:
    return {"name": name, "job": {"handler": handler, "input": {"json": value}}, "dependsOn": list(parents)}


async def test_workflows_workers_and_dead_letters_in_a_browser(start_server: StartServer, browser: Any) -> None:
    """The Workflows pages (the list, one workflow's graph refreshed live, Cancel), the
    Workers page (sessions from the directory) and redriving selected dead letters."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = await start_server(http_port=0, auth=AuthConfig(tokens=TOKENS))
    base = f"http://127.0.0.1:{server.http_port}"
    shots: list[Path] = []
    problems: list[str] = []
    table = HandlerTable([d for d in load_module("tests.handlers").handlers if d.name == "echo"])
    worker = RemoteWorker(
        f"127.0.0.1:{server.port}",
        table,
        config=WorkerConfig(worker_id="dash-worker", concurrency=8),
        security=ClientSecurity(token=WORKER),
    )
    working = asyncio.create_task(worker.run())
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {ADMIN}"}, timeout=30) as http:
        try:
            # Long enough (4 s) for the page to see it running on a loaded machine (2 s was not).
            slow = {"count": 8, "pause": 0.5}
            steps = [
                _step("fetch", "echo", 1),
                _step("transform", "steps", slow, "fetch"),
                _step("audit", "echo", 2, "fetch"),
                _step("publish", "echo", 3, "transform", "audit"),
                _step("notify", "echo", 4, "publish"),
            ]
            flowing = (await _call(http, "WorkflowService/SubmitWorkflow", {"name": "etl", "steps": steps}))["workflow"]
            stuck_steps = [_step("hang", "wait_cancel"), _step("after", "echo", 5, "hang")]
            stuck = await _call(http, "WorkflowService/SubmitWorkflow", {"name": "stuck", "steps": stuck_steps})
            stuck_id = stuck["workflow"]["id"]
            for value in range(3):
                dead = {"job": {"handler": "fail", "input": {"json": value}}}
                await http.post("/jobsvc.v1.CallService/Call", json=dead)

            await _call(http, "SubmitService/Submit", {"job": {"handler": "echo", "delay": "600s"}})
            page = await _signed_in(browser, base, ADMIN, problems)
            # The overview says what queued jobs wait for.
            reason = page.locator('#overview tr[data-handler="echo"] [data-reason="WAIT_REASON_SCHEDULED"]')
            assert await reason.inner_text() == "1 start time"
            await _shot(page, "20-overview-wait-reasons", shots)
            await page.goto(f"{base}/#/workflows")
            await page.wait_for_selector(f'#workflows tr[data-workflow="{stuck_id}"]')
            assert await page.locator("#workflows tbody tr[data-workflow]").count() == 2
            await _shot(page, "13-workflows", shots)

            # One workflow's graph: five boxes, five edges, redrawn live until every step succeeded.
            await page.click(f'#workflows tr[data-workflow="{flowing["id"]}"] a')
            await page.wait_for_selector('#dag [data-step="transform"][data-state="RUNNING"]')
            assert await page.locator("#dag .dag-node").count() == 5
            assert await page.locator("#dag .dag-edge").count() == 5
            assert await page.locator('#dag [data-step="publish"]').get_attribute("data-state") == "WAITING"
            await _shot(page, "14-workflow-running", shots)
            await page.wait_for_selector("#workflow-state >> text=SUCCEEDED")
            await page.wait_for_selector('#dag [data-step="notify"][data-state="SUCCEEDED"]')
            await _shot(page, "15-workflow-succeeded", shots)
            await page.click('#dag [data-step="transform"]')  # each step links to its job
            await page.wait_for_selector("#result-value")
            assert "/#/jobs/" in page.url

            # Cancel a running workflow.
            await page.goto(f"{base}/#/workflows/{stuck_id}")
            await page.wait_for_selector('#dag [data-step="hang"][data-state="RUNNING"]')
            await page.click("#cancel-workflow")
            await page.wait_for_selector("#workflow-state >> text=CANCELLED")
            await page.wait_for_selector('#dag [data-step="after"][data-state="CANCELLED"]')
            await _shot(page, "16-workflow-cancelled", shots)

            # The remote worker's session, from the directory.
            await page.goto(f"{base}/#/workers")
            await page.wait_for_selector('#workers tr[data-worker="dash-worker"]')
            assert "echo@1.0.0" in await page.inner_text('#workers tr[data-worker="dash-worker"]')
            await _shot(page, "17-workers", shots)
            # The handlers page says who serves each version now.
            await page.goto(f"{base}/#/handlers")
            served = page.locator('#handlers tr[data-handler="echo"] td.served')
            await served.locator('[data-worker="dash-worker"]').wait_for()
            assert "an executor" in await page.inner_text('#handlers tr[data-handler="steps"] td.served')

            # Dead letters: select two, redrive them.
            await page.goto(f"{base}/#/jobs?state=FAILED&handler=fail")
            await _until(lambda: _count(page, 3), "the 3 dead letters listed")
            boxes = page.locator("#jobs input[data-select]")
            await boxes.nth(0).check()
            await boxes.nth(1).check()
            assert await page.inner_text("#redrive-selected") == "Redrive selected (2)"
            await _shot(page, "18-dead-letters-selected", shots)
            await page.click("#redrive-selected")
            await page.wait_for_selector(".flash >> text=redriven")
            assert "2 of 2 selected job(s) redriven." in await page.inner_text(".flash")
            listed = await _call(http, "JobService/ListJobs", {"handler": "fail", "view": "JOB_VIEW_BASIC"})
            assert sum(1 for j in listed["jobs"] if j.get("redriveOf")) == 2
            # Filters by version and creation time (the browser's local time, sent as UTC).
            await page.fill("#filter-version", "1.0.0")
            await page.fill("#filter-after", "2000-01-01T00:00")
            await page.click("form.filters button[type=submit]")
            await _until(
                lambda: _true("version=1.0.0" in page.url and "after=" in page.url), "the filters in the address"
            )
            await _until(lambda: _count(page, 5), "the 3 dead letters and the 2 redriven ones (failed again)")
            await _shot(page, "21-jobs-version-time", shots)
            await page.fill("#filter-after", "2099-01-01T00:00")
            await page.click("form.filters button[type=submit]")
            await page.wait_for_selector("#jobs >> text=No jobs match.")
            await page.context.close()

            # A read token sees a running workflow, and cannot cancel it or select dead letters.
            again = await _call(http, "WorkflowService/SubmitWorkflow", {"name": "stuck", "steps": stuck_steps})
            reader = await _signed_in(browser, base, READER, problems)
            await reader.goto(f"{base}/#/workflows/{again['workflow']['id']}")
            await reader.wait_for_selector('#dag [data-step="hang"][data-state="RUNNING"]')
            assert await reader.locator("#cancel-workflow").is_disabled()
            await _shot(reader, "19-read-token-workflow", shots)
            await reader.goto(f"{base}/#/jobs?state=FAILED")
            await reader.wait_for_selector("#jobs input[data-select]")
            assert await reader.locator("#jobs input[data-select]").first.is_disabled()
            await reader.context.close()
            await _call(http, "WorkflowService/CancelWorkflow", {"id": again["workflow"]["id"]})
        finally:
            worker.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(working, 10)
    assert not problems, problems
    print("\ndashboard screenshots:\n" + "\n".join(f"  {p}" for p in shots))


async def _focused_job(page: Any) -> str | None:
    """The job of the jobs table's row that has the focus, if one has."""
    focused = page.locator("#jobs tbody tr:focus")
    return await focused.get_attribute("data-job") if await focused.count() else None


async def test_labels_keyboard_and_times_in_a_browser(start_server: StartServer, browser: Any) -> None:
    """The jobs table filtered by labels; tables reached, walked and opened with the
    keyboard, the focus visible; times in the browser's time zone, UTC on hover."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = await start_server(http_port=0, auth=AuthConfig(tokens=TOKENS))
    base = f"http://127.0.0.1:{server.http_port}"
    shots: list[Path] = []
    problems: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {ADMIN}"}, timeout=30) as http:
        jobs = {}
        for name, labels in [
            ("eu", {"team": "payments", "region": "eu"}),
            ("us", {"team": "payments", "region": "us"}),
            ("search", {"team": "search"}),
        ]:
            job = {"handler": "echo", "input": {"json": name}, "labels": labels}
            jobs[name] = (await _call(http, "CallService/Call", {"job": job}))["job"]
        # Kolkata (UTC+05:30, no daylight saving) and British dates: "07/12/2026, 11:40:44".
        page = await _signed_in(browser, base, ADMIN, problems, timezone_id="Asia/Kolkata", locale="en-GB")

        # Labels: name=value pairs, every one required.
        await page.goto(f"{base}/#/jobs")
        await _until(lambda: _count(page, 3), "the 3 jobs listed")
        await page.fill("#filter-labels", "team=payments")
        await page.click("form.filters button[type=submit]")
        await _until(lambda: _true("labels=team%3Dpayments" in page.url), "the label filter in the address")
        await _until(lambda: _count(page, 2), "the 2 jobs of team payments")
        await page.fill("#filter-labels", "team=payments, region=eu")
        await page.click("form.filters button[type=submit]")
        await _until(lambda: _count(page, 1), "the one job of team payments in the eu")
        assert await page.locator("#jobs tbody tr[data-job]").get_attribute("data-job") == jobs["eu"]["id"]
        await _shot(page, "22-jobs-labels", shots)
        await page.fill("#filter-labels", "team")  # not name=value: refused, the address unchanged
        await page.click("form.filters button[type=submit]")
        assert "name=value" in await page.inner_text(".flash.error")
        assert await page.get_attribute("#filter-labels", "aria-invalid") == "true"
        assert "region%3Deu" in page.url
        await page.goto(f"{base}/#/jobs")
        await _until(lambda: _count(page, 3), "the 3 jobs listed")
        await page.click('#jobs a[data-label="team=search"]')  # a label in the table filters by it
        await _until(lambda: _count(page, 1), "the one job of team search")
        assert await page.input_value("#filter-labels") == "team=search"

        # The keyboard: Tab reaches the table (one stop for its rows), arrows walk it, Enter opens.
        await page.goto(f"{base}/#/jobs")
        await _until(lambda: _count(page, 3), "the 3 jobs listed")
        order = [await row.get_attribute("data-job") for row in await page.locator("#jobs tbody tr[data-job]").all()]
        for _ in range(30):
            if await _focused_job(page):
                break
            await page.keyboard.press("Tab")
        assert await _focused_job(page) == order[0], "Tab never reached the jobs table"
        row = page.locator("#jobs tbody tr:focus")
        assert await page.locator("#jobs tbody tr.openable:focus-visible").count() == 1
        assert await row.evaluate("r => getComputedStyle(r).outlineStyle") == "solid"  # the focus is visible
        await page.keyboard.press("ArrowDown")
        assert await _focused_job(page) == order[1]
        await page.keyboard.press("End")
        assert await _focused_job(page) == order[2]
        await page.keyboard.press("Home")
        await page.keyboard.press("ArrowDown")
        await _shot(page, "23-jobs-keyboard-focus", shots)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#result-value")
        assert page.url.endswith(f"#/jobs/{order[1]}")
        assert await page.locator("#main:focus").count() == 1  # the new page's content has the focus
        assert "Priority" in await page.inner_text("#job-details")  # the job's options
        await page.go_back()
        await _until(lambda: _count(page, 3), "the 3 jobs listed again")
        await page.fill("#goto-job", jobs["search"]["id"])  # a job found by its id
        await page.press("#goto-job", "Enter")
        await page.wait_for_selector("#result-value")
        assert page.url.endswith(f"#/jobs/{jobs['search']['id']}")
        await page.go_back()
        await _until(lambda: _count(page, 3), "the 3 jobs listed again")

        # Times: shown in the browser's time zone, the UTC value on hover.
        created = datetime.fromisoformat(jobs["eu"]["createTime"].replace("Z", "+00:00"))
        cell = page.locator(f'#jobs tr[data-job="{jobs["eu"]["id"]}"] time').first
        assert await cell.inner_text() == created.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%d/%m/%Y, %H:%M:%S")
        tooltip = page.locator("#tooltip")
        assert await tooltip.is_hidden()
        await cell.hover()
        await tooltip.wait_for(state="visible")
        assert await tooltip.inner_text() == created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        await _shot(page, "24-time-utc-on-hover", shots)
        await page.hover("h1")
        await tooltip.wait_for(state="hidden")
        await page.context.close()
    assert not problems, problems
    print("\ndashboard screenshots:\n" + "\n".join(f"  {p}" for p in shots))
