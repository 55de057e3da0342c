"""Benchmark the platform's GET /metrics: what one Prometheus scrape costs as the jobs table grows.

Every scrape reads jobs by state and priority from SQLite (one GROUP BY over the table), the scheduler's
queue, /proc and statvfs, and nvidia-smi when there is one. This starts an in-process platform on free
loopback ports, fills its database with N stopped jobs (written straight into SQLite, as if run earlier),
and times sequential scrapes over HTTP with a read-only token. Prints a Markdown table; about a minute.

    .venv/bin/python bench/metrics_scrape.py [--jobs 0 10000 100000] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from platform_server.app import PlatformServer  # noqa: E402
from platform_server.domain import JobPriority, JobState, JobStatus  # noqa: E402
from platform_server.settings import PlatformSettings  # noqa: E402

TOKEN = "bench-metrics-reader"


def settings(data: Path) -> PlatformSettings:
    key = {"name": "bench", "role": "read-only", "sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}
    return PlatformSettings.model_validate({
        "server": {"port": 0}, "storage": {"data_dir": str(data)}, "scheduler": {"gpus": 0},
        "log": {"level": "WARNING"}, "auth": {"api_keys": [key], "audit_log": str(data / "audit.log")}})


def seed(database: Path, count: int) -> None:
    """`count` finished jobs, spread over the priorities and statuses, in one transaction."""
    now = time.time()
    priorities = [p for p in JobPriority if p != JobPriority.UNKNOWN]
    statuses = [JobStatus.HEALTHY, JobStatus.FAULTED, JobStatus.CANCELED]
    rows = [(uuid.uuid4().hex, "0" * 32, uuid.uuid4().hex, f"job-{i}", int(priorities[i % len(priorities)]),
             int(JobState.STOPPED), int(statuses[i % len(statuses)]), now, now, now, now, "{}", "[]", "[]", "{}",
             "[]") for i in range(count)]
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO jobs (job_id, pipeline_id, payload_id, name, priority, state, status, created, started, "
            "stopped, queued, variables, messages, operators, metadata, definition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


async def measure(jobs: int, scrapes: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as folder:
        data = Path(folder) / "data"
        first = PlatformServer(settings(data), request_stop=lambda: None)
        await first.start()  # creates the schema
        await first.stop()
        seed(data / "platform.db", jobs)
        server = PlatformServer(settings(data), request_stop=lambda: None)
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.metrics_port}/metrics"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            times: list[float] = []
            async with httpx.AsyncClient(timeout=30) as http:
                size = len((await http.get(url, headers=headers)).content)  # warm-up
                for _ in range(scrapes):
                    started = time.perf_counter()
                    response = await http.get(url, headers=headers)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200
            return statistics.median(times) * 1000, max(times) * 1000, size
        finally:
            await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    print("| jobs in the database | median scrape (ms) | slowest (ms) | response bytes |")
    print("|---:|---:|---:|---:|")
    for jobs in args.jobs:
        median, slowest, size = await measure(jobs, args.scrapes)
        print(f"| {jobs:,} | {median:.1f} | {slowest:.1f} | {size:,} |")


if __name__ == "__main__":
    asyncio.run(main())
