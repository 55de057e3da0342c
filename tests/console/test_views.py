"""The console in headless Chromium against the real stack: each view shows real data, stays live,
passes axe-core (no serious or critical violation) and is written to docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from openclara.metrics import Figures
from tests.conftest import free_port
from tests.console.conftest import ConsoleStack
from tests.support.browser import axe_violations, log_in, open_page, screenshot
from tests.support.processes import Process, port_open, python_module, running

pytestmark = pytest.mark.integration


def _checked(page: Any, name: str) -> None:
    assert axe_violations(page) == []
    screenshot(page, name)


def test_every_route_but_the_login_needs_a_session(browser: Any, console_stack: ConsoleStack) -> None:
    page = open_page(browser, console_stack.url)
    page.goto("/jobs")
    assert "/login?next=%2Fjobs" in page.url
    assert axe_violations(page) == []
    screenshot(page, "console-login")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That token is not valid for this stack."
    for path in ("/static/console.css", "/api-docs", "/jobs/live"):
        assert page.request.get(path).status in (401, 303), path
    cookie_flags = page.request.post("/login", form={"token": console_stack.token}, max_redirects=0).headers
    assert re.search(r"HttpOnly; SameSite=Strict", cookie_flags["set-cookie"])
    page.close()


def test_a_mutation_without_the_csrf_header_is_refused(page: Any, console_stack: ConsoleStack) -> None:
    response = page.request.post(f"/api/tasks/{console_stack.failed_task_id}/retry")
    assert response.status == 403
    assert "X-CSRF-Token" in response.json()["detail"]


def test_overview_shows_services_studies_jobs_exports_and_disk(page: Any) -> None:
    page.goto("/")
    services = page.locator(".services").inner_text()
    assert services.count(": up") == 3, services
    assert int(page.locator("#studies-today").inner_text()) >= 1
    assert int(page.locator("#exports-failed").inner_text()) >= 0
    assert page.get_by_role("img", name=re.compile(r"Spool disk [\d.]+% used, watermark 85")).is_visible()
    _checked(page, "console-overview")


def test_overview_shows_the_platforms_own_figures(page: Any, console_stack: ConsoleStack) -> None:
    """Jobs, the node and the GPUs come from the platform's /metrics, where `openclara up` put it (a free port,
    not the API's + 1): the numbers Prometheus reads there."""
    figures = _platform_figures(console_stack)
    page.goto("/")
    assert page.get_by_role("img", name=re.compile(r"Jobs by state: PENDING \d+, RUNNING [1-9]")).is_visible()
    slots = int(figures.value("openclara_platform_job_slots") or 0)
    expect(page.locator("#job-slots")).to_contain_text(re.compile(rf"Running [1-9]\d* of {slots} slots; waiting"))
    node = page.get_by_role("region", name="Node (platform)")
    cpus = int(figures.value("openclara_platform_node_cpus") or 0)
    expect(node).to_contain_text(f"({cpus} CPUs)")
    assert node.get_by_role("img", name=re.compile(r"CPU [\d.]+% busy")).is_visible()
    assert node.get_by_role("img", name=re.compile(r"Memory [\d.]+% used")).is_visible()
    volumes = {s.labels["volume"] for s in figures.samples("openclara_platform_node_disk_size_bytes")}
    shown = node.get_by_role("img", name=re.compile(r"^Disk ")).evaluate_all(
        "images => images.map(image => image.getAttribute('aria-label'))")
    folders = [re.fullmatch(r"Disk (.+) [\d.]+% used", label) for label in shown]
    assert {v for found in folders if found for v in found.group(1).split(", ")} == volumes, shown
    gpus = int(figures.value("openclara_platform_gpus") or 0)
    assert page.get_by_role("region", name="GPUs").count() == (1 if gpus else 0)


def _platform_figures(stack: ConsoleStack) -> Figures:
    """One scrape, as Prometheus makes it (sync: Playwright's sync API holds this thread's event loop)."""
    answer = httpx.get(f"{stack.up.endpoint('platform metrics')}/metrics",
                       headers={"Authorization": f"Bearer {stack.token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return Figures.parse(answer.text)


@pytest.mark.parametrize("where", ["closed port", "another service"])
def test_overview_renders_without_the_platforms_metrics(browser: Any, console_stack: ConsoleStack,
                                                        tmp_path: Path, where: str) -> None:
    """A console whose platform metrics URL is a closed port, or answers without the platform's figures (the
    adapter's /metrics), still shows everything else and says what is missing and why."""
    up = console_stack.up
    port, closed = free_port(), free_port()
    if where == "closed port":
        url = f"http://127.0.0.1:{closed}/metrics"
        reason = f"not available (the platform's metrics: {url}: ConnectError"
    else:
        url = f"{up.endpoint('adapter REST API')}/metrics"
        reason = "not available (the platform's metrics: no such figures)"
    home = Path(up.env["CLARA_HOME"])  # the stack's tokens, not the test session's file (CLARA_CREDENTIALS)
    env = {"CLARA_HOME": str(home), "CLARA_CREDENTIALS": str(home / "credentials.yaml"),
           "CLARA_CONSOLE__PORT": str(port),
           "CLARA_CONSOLE__PLATFORM_ENDPOINT": up.endpoint(r"Platform API \(gRPC\)"),
           "CLARA_CONSOLE__RESULTS_URL": up.endpoint("results service"),
           "CLARA_CONSOLE__DICOM_API_URL": up.endpoint("adapter REST API"),
           "CLARA_CONSOLE__PLATFORM_METRICS_URL": url}
    console = Process(python_module("console", "serve"), tmp_path / "console.log", env)
    with running(console, lambda: port_open(port), 60, "the second console"):
        page = open_page(browser, f"http://127.0.0.1:{port}")
        log_in(page, console_stack.token)
        assert page.locator(".services").inner_text().count(": up") == 3
        assert int(page.locator("#studies-today").inner_text()) >= 1
        for missing in ("#jobs-unavailable", "#node-unavailable"):
            expect(page.locator(missing)).to_contain_text(reason)
        assert page.get_by_role("img", name=re.compile(r"Spool disk [\d.]+% used")).is_visible()
        assert page.get_by_role("region", name="GPUs").count() == 0
        assert axe_violations(page) == []
        page.close()


def test_studies_show_called_and_calling_ae_instances_and_state(page: Any) -> None:
    page.goto("/studies")
    row = page.locator("tbody tr", has_text="CLARA").first
    # The calling AE is on the payload's job, from the console's job listing: a listing older than the job
    # is renewed in the background, and the live section shows it on a following refresh.
    expect(row.locator("td").nth(2)).to_have_text("STORESCU", timeout=15_000)
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["CLARA", "STORESCU", "24"], cells
    assert cells[4] in ("submitted", "done"), cells
    _checked(page, "console-studies")


def test_studies_update_live_when_a_study_arrives(page: Any, console_stack: ConsoleStack) -> None:
    page.goto("/studies")
    before = page.locator("tbody tr", has_text="CLARA").count()
    console_stack.send_study(seed=11, slices=8)
    # (wait_for_function would evaluate a string, which the console's CSP forbids: poll from here)
    for _ in range(60):
        if page.locator("tbody tr", has_text="CLARA").count() > before:
            break
        page.wait_for_timeout(500)
    assert page.locator("tbody tr", has_text="CLARA").count() > before
    assert page.url.endswith("/studies")  # no navigation: the live section was swapped in


def test_retry_a_faulted_payload(page: Any, console_stack: ConsoleStack) -> None:
    # An AE title whose pipeline the platform does not know: its payloads end faulted.
    console_stack.up.clara("dicom", "create", "aetitle", "-a", "NOPIPE", "pipeline-x=" + "0" * 32, "timeout=1")
    console_stack.send_study(seed=21, slices=4, called="NOPIPE")
    page.goto("/studies?state=faulted")
    retry = page.get_by_role("button", name=re.compile("Retry payload"))
    retry.first.wait_for(timeout=60_000)  # the live section shows it once the platform refused the job
    assert "NOPIPE" in page.locator("tbody tr").first.inner_text()
    retry.first.click()
    page.get_by_role("status").filter(has_text="Payload submitted again").wait_for()


def test_pipeline_page_draws_the_dag_and_lists_its_jobs(page: Any, console_stack: ConsoleStack) -> None:
    page.goto("/pipelines")
    page.get_by_role("link", name="lung-seg").click()
    graph = page.get_by_role("img", name=re.compile("Pipeline graph"))
    label = graph.get_attribute("aria-label")
    assert "dicom-reader to lung-segmentation" in label and "register-results" in label, label
    assert page.locator(".dag .node").count() == 4
    assert "dicom-seg-writer" in page.locator("pre.code").first.inner_text()
    assert page.locator("tbody tr a", has_text=re.compile(".")).count() >= 1
    _checked(page, "console-pipeline")
    page.goto("/pipelines")
    _checked(page, "console-pipelines")


def test_jobs_filter_and_job_detail_with_timeline_logs_and_outputs(page: Any, console_stack: ConsoleStack) -> None:
    page.goto("/jobs")
    page.get_by_label("State").select_option("STOPPED")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/jobs?state=STOPPED*")
    assert page.locator("tbody tr").count() >= 1
    assert "console-slow-job" not in page.locator("tbody").inner_text()
    _checked(page, "console-jobs")
    page.goto(f"/jobs/{console_stack.lung_job_id}")
    assert page.locator(".timeline rect.bar").count() == 4
    operators = page.locator("table:has(caption:text-is('Operators')) tbody tr").all_inner_texts()
    assert all("COMPLETED" in row or "HEALTHY" in row or "SUCCEEDED" in row for row in operators), operators
    log = page.locator("pre[data-log]").first
    expect(log).not_to_have_text("…")
    files = page.locator("table:has(caption:text-is('Files the operators wrote')) a", has_text="SEG")
    assert files.count() >= 1
    with page.expect_download() as download:
        files.first.click()
    assert download.value.path().stat().st_size > 0
    _checked(page, "console-job")


def test_cancel_a_running_job(page: Any, console_stack: ConsoleStack) -> None:
    page.goto(f"/jobs/{console_stack.slow_job_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("status").filter(has_text="Job canceled").wait_for()
    page.locator("#job-state", has_text="STOPPED").wait_for(timeout=30_000)


def test_results_per_agent_and_retry_a_failed_task(page: Any, console_stack: ConsoleStack) -> None:
    page.goto("/results")
    counts = page.locator("table", has_text="Tasks per agent").inner_text()
    assert "ClaraSCU" in counts or "console-test-agent" in counts, counts
    short = console_stack.failed_task_id[:8]
    _checked(page, "console-results")
    page.get_by_role("button", name=f"Retry task {short}").click()
    page.get_by_role("status").filter(has_text="Task queued again").wait_for()
    row = page.locator("tbody tr", has_text=short)
    row.filter(has_text="Pending").wait_for(timeout=15_000)


def test_dicom_configuration_create_echo_edit_delete_and_history(page: Any, console_stack: ConsoleStack) -> None:
    page.goto("/dicom")
    assert page.locator("table", has_text="Association history").locator("tbody tr", has_text="STORESCU").count() >= 1
    form = page.locator("form[data-entity-form=destinations]")
    form.get_by_label("Name").fill("PACS2")
    form.get_by_label("AE title").fill("PACS")
    form.get_by_label("Host or IP").fill("127.0.0.1")
    form.get_by_label("Port").fill(str(console_stack.pacs_port))
    form.get_by_role("button", name="Save destination").click()
    page.get_by_role("status").filter(has_text="Saved destination PACS2").wait_for()
    page.get_by_role("button", name="C-ECHO PACS2").wait_for()
    page.get_by_role("button", name="C-ECHO PACS2").click()
    page.get_by_role("status").filter(has_text="C-ECHO: success").wait_for()
    page.get_by_role("button", name="Edit destination PACS2").click()
    form.get_by_label("Port").fill("1")
    form.get_by_role("button", name="Save destination").click()
    page.get_by_role("status").filter(has_text="Saved destination PACS2").wait_for()
    page.locator("tbody tr", has_text="PACS2").filter(has=page.locator("td", has_text=re.compile(r"^1$"))).wait_for()
    _checked(page, "console-dicom")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete destination PACS2").click()
    page.get_by_role("button", name="Delete destination PACS2").wait_for(state="detached")
    with console_stack.rest("adapter") as adapter:
        names = [d["name"] for d in adapter.get("/api/config/destinationaetitle").json()]
    assert "PACS2" not in names


def test_keyboard_reaches_the_skip_link_the_sections_and_the_actions(page: Any) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/")
    visited = []
    for _ in range(9):
        page.keyboard.press("Tab")
        visited.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert visited[1:8] == ["Overview", "Studies", "Pipelines", "Jobs", "Results", "DICOM configuration", "API docs"], (
        visited
    )
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/results")
    page.goto("/api-docs")
    _checked(page, "console-api-docs")


@pytest.mark.parametrize("service", ["results service", "adapter REST API"])
def test_swagger_ui_of_both_rest_services_renders_offline(
    browser: Any, console_stack: ConsoleStack, service: str
) -> None:
    docs = open_page(browser, console_stack.up.endpoint(service))
    docs.goto("/docs")
    title = docs.locator(".swagger-ui .info .title")
    title.wait_for(timeout=20_000)
    assert "openclara" in title.inner_text()
    assert docs.locator(".opblock").count() > 3
    assert docs.foreign_requests == []
    screenshot(docs, f"swagger-{service.split()[0]}")
    docs.close()
