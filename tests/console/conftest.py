"""One real stack for the console's browser tests, with real data in every view.

`openclara up` (every port free-picked, the console included) gets the reference lung-seg pipeline;
DCMTK storescu sends a phantom CT, the job runs and its SEG is exported to DCMTK storescp (the PACS).
A slow pipeline leaves a job running (to cancel), and one results task is made Failed through the
results service's own agent API (to retry). The stack lives for the whole session: it takes a minute.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openclara.auth.credentials import credential
from pipeline_operators.phantom import PhantomSpec
from pipeline_operators.sample_study import write_study
from platform_api.client import PlatformClient
from tests.conftest import free_port, require_peer
from tests.support.browser import chromium, log_in, open_page, require_chromium
from tests.support.processes import ROOT, storescp, wait_for
from tests.support.stack_up import Up, stack_env

pytestmark = pytest.mark.integration

SLOW_PIPELINE = """\
api-version: 0.4.0
name: console-slow
operators:
  - name: sleeper
    container:
      image: openclara/operators
      tag: "0.1"
      command: ["python", "-c", "import time; time.sleep(600)"]
    input:
      - path: /input
"""


@dataclass
class ConsoleStack:
    up: Up
    url: str
    token: str
    pipeline_id: str
    slow_pipeline_id: str
    lung_job_id: str
    slow_job_id: str
    failed_task_id: str
    pacs_port: int
    scp_port: int
    tmp: Path

    def send_study(self, seed: int, slices: int = 24, called: str = "CLARA") -> None:
        ct = self.tmp / f"ct-{seed}"
        write_study(PhantomSpec(slices=slices, matrix=128, slice_spacing=5.0, seed=seed), ct)
        subprocess.run(
            [
                require_peer("storescu"),
                "-aet",
                "STORESCU",
                "-aec",
                called,
                "+sd",
                "127.0.0.1",
                str(self.scp_port),
                str(ct),
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )

    def rest(self, service: str) -> httpx.Client:
        base = self.up.endpoint("results service" if service == "results" else "adapter REST API")
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


def _job_id(stack: ConsoleStack, name: str) -> str:
    async def find() -> str:
        async with PlatformClient(stack.up.endpoint(r"Platform API \(gRPC\)"), token=stack.token) as client:
            return next(str(job.job_id) for job in await client.list_jobs() if job.name == name)

    return asyncio.run(find())


def _failed_task(stack: ConsoleStack) -> str:
    with stack.rest("results") as results:
        registered = results.post(
            "/api/tasks/register/console-test-agent",
            json={"jobId": stack.lung_job_id, "parameters": '"NOWHERE"', "uris": ["x.dcm"]},
        )
        assert registered.status_code in (200, 201), registered.text
        leased = results.get("/api/tasks/console-test-agent/pending", params={"size": 1}).json()
        task = leased[0]
        failed = results.put(
            f"/api/tasks/failure/{task['taskId']}",
            params={"leaseId": task["leaseId"]},
            json={"retryLater": False, "error": "the test's agent gave up"},
        )
        assert failed.status_code == 200, failed.text
        return str(task["taskId"])


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("console-stack")
    with ExitStack() as cleanup:
        up = Up(tmp, stack_env(tmp))
        cleanup.callback(up.stop)
        up.wait_up()
        pacs_port = free_port()
        cleanup.enter_context(storescp(require_peer("storescp"), tmp / "pacs", pacs_port, "PACS"))
        pipeline = up.clara("create", "pipeline", "-p", str(ROOT / "config/pipelines/lung-seg.yaml"))
        slow_file = tmp / "slow.yaml"
        slow_file.write_text(SLOW_PIPELINE)
        slow = up.clara("create", "pipeline", "-p", str(slow_file))
        up.clara("dicom", "create", "aetitle", "-a", "CLARA", f"pipeline-lung-seg={pipeline}", "timeout=1")
        up.clara("dicom", "create", "src", "-a", "STORESCU", "-i", "127.0.0.1")
        up.clara("dicom", "create", "dest", "-n", "ORTHANC", "-a", "PACS", "-i", "127.0.0.1", "-p", str(pacs_port))
        stack = ConsoleStack(
            up,
            up.endpoint("console"),
            credential("admin", Path(up.env["CLARA_HOME"]) / "credentials.yaml") or "",
            pipeline,
            slow,
            "",
            "",
            "",
            pacs_port,
            int(up.endpoint("DICOM SCP").rpartition(":")[2]),
            tmp,
        )
        stack.send_study(seed=3)
        wait_for(lambda: any((tmp / "pacs").glob("SG*")), 240, "the SEG at the PACS")
        with stack.rest("results") as results:
            wait_for(
                lambda: any(t["state"] == "Succeeded" for t in results.get("/api/tasks").json()),
                60,
                "the export task Succeeded",
            )
            stack.lung_job_id = results.get("/api/tasks").json()[0]["jobId"]
        inputs = tmp / "slow-input"
        inputs.mkdir()
        (inputs / "note.txt").write_text("input\n")
        up.clara("create", "job", "-p", slow, "-n", "console-slow-job", "-f", str(inputs), "--start")
        stack.slow_job_id = _job_id(stack, "console-slow-job")
        stack.failed_task_id = _failed_task(stack)
        yield stack


@pytest.fixture(scope="module")
def browser(console_stack: ConsoleStack) -> Iterator[Any]:
    # Per module: Playwright's sync API holds an event loop while the browser is open, which async tests
    # (pytest-asyncio) in a later module could not run beside.
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Any, console_stack: ConsoleStack) -> Iterator[Any]:
    """A logged-in page on the console that may load nothing from another origin."""
    opened = open_page(browser, console_stack.url)
    log_in(opened, console_stack.token)
    yield opened
    assert opened.foreign_requests == [], "the page tried to load from another origin (a CDN?)"
    opened.close()
