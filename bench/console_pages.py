"""Benchmark: every console page's first render with 10,000 jobs and 10,000 results tasks (target <= 300 ms).

`openclara up` on free ports; 10,000 jobs are created on a one-operator pipeline through the Platform API,
all but the last 100 canceled (a history of stopped jobs and a few pending; nothing runs), and 10,000
tasks registered with the results service. Headless Chromium
(/usr/bin/chromium, tests/support/browser.py) then opens each page: the figure is navigation start ->
DOMContentLoaded (HTML from the server parsed, stylesheet and scripts done: what the browser paints
first), for the first load after start-up and the median of the following loads.
Usage: .venv/bin/python bench/console_pages.py [--jobs 10000] [--tasks 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from openclara.auth.credentials import credential  # noqa: E402
from platform_api.client import PlatformClient  # noqa: E402
from tests.support.browser import chromium, log_in, open_page  # noqa: E402
from tests.support.harness import TRIVIAL_PIPELINE  # noqa: E402
from tests.support.stack_up import Up, stack_env  # noqa: E402

# The page is rendered by the server: once the HTML is parsed and its stylesheet and scripts have run
# (DOMContentLoaded) the browser paints it. Paint Timing's first-contentful-paint is not reliably
# reported by headless Chromium, so the figure is DOMContentLoaded's end, from navigation start.
FIRST_RENDER = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


async def fill_jobs(endpoint: str, token: str, count: int) -> tuple[str, str]:
    async with PlatformClient(endpoint, token=token, timeout=60) as client:
        pipeline = await client.create_pipeline({"bench-console.yaml": TRIVIAL_PIPELINE.format(name="bench-console")})
        semaphore = asyncio.Semaphore(16)
        last = ""

        async def one(index: int) -> None:
            nonlocal last
            async with semaphore:
                job_id, _ = await client.create_job(pipeline, f"bench-{index:05d}")
                if index < count - 100:
                    await client.cancel_job(job_id, reason="bench history")
                last = job_id

        await asyncio.gather(*(one(i) for i in range(count)))
        return str(pipeline), last


async def fill_tasks(url: str, token: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(index: int) -> None:
            async with semaphore:
                body = {"jobId": f"bench-job-{index}", "parameters": '"BENCH"', "uris": [f"f{index}.dcm"]}
                response = await client.post(f"/api/tasks/register/bench-agent-{index % 4}", json=body)
                response.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(count)))


def server_ms(url: str, cookies: dict[str, str], path: str, runs: int) -> float:
    """The server's share: median time to the whole HTML over HTTP (no browser)."""
    times = []
    with httpx.Client(base_url=url, cookies=cookies, timeout=30) as client:
        for _ in range(runs):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, token: str, pages: list[str], runs: int) -> list[tuple[str, float, float, float]]:
    rows = []
    with chromium() as browser:
        page = open_page(browser, url)
        log_in(page, token)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        for path in pages:
            paints = []
            for _ in range(runs + 1):
                page.goto(path, wait_until="load")
                paints.append(float(page.evaluate(FIRST_RENDER)))
            rows.append((path, paints[0], statistics.median(paints[1:]), server_ms(url, cookies, path, runs)))
        page.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        tmp = Path(folder)
        up = Up(tmp, stack_env(tmp))
        try:
            up.wait_up()
            token = credential("admin", tmp / "home" / "credentials.yaml") or ""
            started = time.monotonic()
            pipeline, job = asyncio.run(fill_jobs(up.endpoint(r"Platform API \(gRPC\)"), token, args.jobs))
            asyncio.run(fill_tasks(up.endpoint("results service"), token, args.tasks))
            print(f"filled {args.jobs} jobs and {args.tasks} tasks in {time.monotonic() - started:.0f} s")
            pages = ["/", "/studies", "/pipelines", f"/pipelines/{pipeline}", "/jobs",
                     "/jobs?state=PENDING&offset=5000", f"/jobs/{job}", "/results", "/results?offset=5000",
                     "/results?state=Pending&agent=bench-agent-1",
                     "/dicom", "/api-docs"]
            rows = measure(up.endpoint("console"), token, pages, args.runs)
        finally:
            up.stop()
    print(f"{'page':<48} {'first load ms':>14} {'median ms':>10} {'server ms':>10}")
    for path, first, median, server in rows:
        shown = path if not path.startswith("/pipelines/") and not path.startswith("/jobs/") else path[:16] + "…"
        print(f"{shown:<48} {first:>14.0f} {median:>10.0f} {server:>10.0f}")
    worst = max(median for _, _, median, _ in rows)
    print(f"worst median: {worst:.0f} ms (target <= 300 ms)")


if __name__ == "__main__":
    main()
