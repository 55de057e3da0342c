"""The whole DICOM adapter as a receiver for bench/scp_receive.py: the adapter process as a user runs
it, a real platform_server process, and an AE title whose one pipeline is a trivial operator.

Every instance the adapter acknowledges is grouped into a payload (quiet timeout `--timeout`), the
payload becomes a job, its files are hard-linked into it (the platform takes files from the benchmark's
scratch folder, as the embedded stack's platform takes them from the adapter's spool; `link=False`:
uploaded over gRPC, as across machines) and the job started; `wait_jobs` polls
Jobs.List until the jobs of the studies just sent are RUNNING (or already STOPPED). One platform per
benchmark run (`platform()`), a fresh adapter on an empty spool and database per timed send.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_api.client import PlatformClient
from platform_api.types import JobState
from tests.support.harness import TRIVIAL_PIPELINE, Adapter, Platform, Service, wait_until
from tests.support.stack import ensure_credentials

_STARTED = (JobState.RUNNING, JobState.STOPPED)


@dataclass
class BenchPlatform:
    """The platform process and the pipeline every adapter's AE title runs; remembers jobs already seen."""

    platform: Platform
    pipeline_id: str
    seen: set[str] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return self.platform.endpoint

    def wait_jobs(self, count: int, limit: float = 300.0) -> float:
        """perf_counter() once `count` jobs not seen before are RUNNING or later (polled every 10 ms)."""
        return asyncio.run(self._wait_jobs(count, limit))

    async def _wait_jobs(self, count: int, limit: float) -> float:
        async with PlatformClient(self.endpoint, timeout=10) as client:
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                jobs = await client.list_jobs(pipeline_ids=[self.pipeline_id])
                started = {str(j.job_id) for j in jobs if j.state in _STARTED} - self.seen
                if len(started) >= count:
                    self.seen |= started
                    return time.perf_counter()
                await asyncio.sleep(0.01)
        raise TimeoutError(f"fewer than {count} new jobs RUNNING after {limit:.0f} s")


@contextmanager
def platform(root: Path, link_from: Path | None) -> Iterator[BenchPlatform]:
    """The benchmark's platform; it hard-links adapters' spool files found below `link_from` (None: uploads)."""
    root.mkdir(parents=True, exist_ok=True)
    ensure_credentials(root)  # one credentials file (CLARA_CREDENTIALS) for the platform, the adapters, us
    process = Platform(root, link_from=link_from)
    process.start()
    try:
        pipeline_id = asyncio.run(_create_pipeline(process.endpoint))
        yield BenchPlatform(process, pipeline_id)
    finally:
        process.stop()


async def _create_pipeline(endpoint: str) -> str:
    async with PlatformClient(endpoint) as client:
        return str(await client.create_pipeline({"bench.yaml": TRIVIAL_PIPELINE.format(name="bench")}))


def adapter_seed(pipeline_id: str, called: str, calling: str, timeout: float) -> dict[str, Any]:
    processor = {"timeout": str(timeout), "pipeline-bench": pipeline_id}
    return {
        "ae_titles": [{"aeTitle": called, "processorSettings": processor}],
        "sources": [{"aeTitle": calling, "hostIp": "127.0.0.1"}],
    }


@dataclass
class BenchAdapter(Adapter):
    """tests/support's Adapter, optionally running an earlier copy of dicom_adapter/ + openclara/ (A/B)."""

    code: Path | None = None

    def start(self) -> None:
        env = {**os.environ, "CLARA_HOME": str(self.root / "home"), "TCP_NODELAY": "1"}
        if self.code is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.code), env.get("PYTHONPATH", "")]))
        argv = [sys.executable, "-m", "dicom_adapter", "serve", "-f", str(self.config())]
        if os.environ.get("SCP_BENCH_PROFILE"):  # a directory: each adapter writes a cProfile of its life there
            profile = Path(os.environ["SCP_BENCH_PROFILE"]) / f"adapter-{self.root.name}-{time.time_ns()}.prof"
            argv[1:1] = ["-m", "cProfile", "-o", str(profile)]
        self.service = Service(argv, env, self.root / "adapter.log")
        self.service.start()
        service = self.service
        wait_until(lambda: self.ready() or not service.alive(), 60, what="adapter ready")
        assert service.alive(), service.output()

    @property
    def pid(self) -> int:
        assert self.service is not None and self.service.process is not None
        return self.service.process.pid

    @property
    def spool(self) -> Path:
        return self.root / "adapter" / "spool"


@contextmanager
def adapter(
    root: Path, bench: BenchPlatform, called: str, calling: str, timeout: float, code: Path | None = None
) -> Iterator[BenchAdapter]:
    root.mkdir(parents=True, exist_ok=True)
    process = BenchAdapter(root, bench.endpoint, seed=adapter_seed(bench.pipeline_id, called, calling, timeout))
    process.code = code
    process.start()
    try:
        yield process
    finally:
        if process.service is not None:
            process.service.terminate()
            for line in process.service.output().splitlines():  # say which way the files went, once per adapter
                if "submitter.handoff" in line:
                    print(f"    {line.strip()[:200]}", file=sys.stderr)
                    break
