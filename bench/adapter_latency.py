"""Benchmark: last instance acknowledged -> job RUNNING, versus the AE's quiet timeout (target <= timeout + 250 ms).

Real processes on loopback: platform server (trivial one-operator pipeline), DICOM adapter, DCMTK storescu.
For each run a new 5-instance study is sent; the clock starts when storescu exits (after its last C-STORE
response and the release) and stops when Jobs.List first shows the job RUNNING (or already STOPPED),
polled every 10 ms. Usage: .venv/bin/python bench/adapter_latency.py [--runs 7] [--timeouts 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from platform_api.client import PlatformClient  # noqa: E402
from platform_api.types import JobState  # noqa: E402
from tests.support.harness import TRIVIAL_PIPELINE, Adapter, Platform, seed, storescu, write_study  # noqa: E402


def started_at(log: Path, job_id: str) -> float:
    """Wall time of the adapter's `submitter.job.started` line for `job_id` (Jobs.Start answered)."""
    for line in log.read_text(errors="replace").splitlines():
        if "submitter.job.started" in line and job_id in line:
            return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
    return float("nan")


async def wait_running(endpoint: str, pipeline_id: str, known: set[str], limit: float = 60.0) -> tuple[float, str]:
    async with PlatformClient(endpoint, timeout=5) as client:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for job in await client.list_jobs(pipeline_ids=[pipeline_id]):
                if job.job_id not in known and job.state in (JobState.RUNNING, JobState.STOPPED):
                    known.add(job.job_id)
                    return time.monotonic(), str(job.job_id)
            await asyncio.sleep(0.01)
    raise TimeoutError("no job reached RUNNING")


def measure(
    root: Path, platform: Platform, pipeline_id: str, timeout: float, runs: int, known: set[str]
) -> tuple[list[float], list[float]]:
    adapter = Adapter(root / f"t{timeout}", platform.endpoint, seed=seed({"seg": pipeline_id}, timeout=timeout))
    (root / f"t{timeout}").mkdir()
    adapter.start()
    latencies = []
    adapter_side = []
    try:
        for run in range(runs):
            study = write_study(root / f"t{timeout}" / f"study{run}", series=1, per_series=5)
            code, output = storescu(adapter.dicom_port, study)
            acked, acked_wall = time.monotonic(), time.time()
            assert code == 0, output
            running, job_id = asyncio.run(wait_running(platform.endpoint, pipeline_id, known))
            latencies.append(running - acked)
            adapter_side.append(started_at(adapter.service.log if adapter.service else Path(), job_id) - acked_wall)
    finally:
        assert adapter.service is not None
        adapter.service.terminate()
    return latencies, adapter_side


async def create_pipeline(endpoint: str) -> str:
    async with PlatformClient(endpoint) as client:
        return str(await client.create_pipeline({"seg.yaml": TRIVIAL_PIPELINE.format(name="seg")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeouts", default="1,2")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="adapter-latency-"))
    platform = Platform(root)
    platform.start()
    try:
        pipeline_id = asyncio.run(create_pipeline(platform.endpoint))
        known: set[str] = set()  # jobs already measured
        print(
            "| timeout (s) | runs | median ack -> RUNNING (ms) | median over timeout (ms) | max over timeout (ms) "
            "| median ack -> Jobs.Start answered, over timeout (ms) |"
        )
        print("|---|---|---|---|---|---|")
        for timeout in (float(t) for t in args.timeouts.split(",")):
            latencies, adapter_side = measure(root, platform, pipeline_id, timeout, args.runs, known)
            over = [(x - timeout) * 1000 for x in latencies]
            started = statistics.median((x - timeout) * 1000 for x in adapter_side)
            print(
                f"| {timeout:g} | {len(latencies)} | {statistics.median(latencies) * 1000:.0f} "
                f"| {statistics.median(over):.0f} | {max(over):.0f} | {started:.0f} |"
            )
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
