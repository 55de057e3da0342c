"""PlatformMetrics fed by the runner: every way a job and an operator can end, counted once, by label."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openclara.metrics import Figures
from platform_server.domain import JobPriority, JobState
from platform_server.executors.base import OperatorResult, OperatorRun, Outcome
from platform_server.gpu_metrics import GpuSample
from platform_server.metrics import PlatformMetrics, Snapshot
from platform_server.node_metrics import DiskSample, NodeSample
from tests.platform_server.conftest import FakeExecutor, Platform, build

ONE = """\
api-version: 0.4.0
name: one
operators:
- name: {name}
  container: {{image: i, command: [run]}}
  requests: {{gpu: {gpu}}}
"""


@dataclass
class TimingOut(FakeExecutor):
    """Operators named `slow` time out; the rest behave as FakeExecutor's."""

    async def run(self, run: OperatorRun) -> OperatorResult:
        if run.operator == "slow":
            return OperatorResult(Outcome.TIMED_OUT, None, (), "operator 'slow' timed out")
        return await super().run(run)


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[tuple[Platform, PlatformMetrics, FakeExecutor]]:
    metrics = PlatformMetrics(1)
    executor = TimingOut(fail={"crash"}, block={"wait"})
    built = await build(tmp_path, executor, metrics=metrics)
    yield built, metrics, executor
    executor.release.set()
    await built.scheduler.stop(5)
    await built.db.stop()


async def run_one(platform: Platform, name: str, gpu: int = 0, priority: JobPriority = JobPriority.NORMAL) -> str:
    pipeline = await platform.pipelines.create([("one.yaml", ONE.format(name=name, gpu=gpu))], {})
    job = await platform.service.create(pipeline.pipeline_id, name, priority, [], {})
    await platform.service.start(job.job_id, {})
    return job.job_id


def figures(metrics: PlatformMetrics) -> Figures:
    return Figures.parse(metrics.render().decode())


Metered = tuple[Platform, PlatformMetrics, FakeExecutor]


async def test_outcomes_are_counted_by_status_and_reason(metered: Metered) -> None:
    platform, metrics, _ = metered
    for name, gpu in (("fine", 0), ("crash", 0), ("slow", 0), ("greedy", 1)):  # greedy: more GPUs than there are
        await platform.wait_stopped(await run_one(platform, name, gpu, JobPriority.HIGHER))
    seen = figures(metrics)
    assert seen.value("openclara_platform_jobs_finished_total", status="HEALTHY") == 1
    assert seen.value("openclara_platform_jobs_finished_total", status="FAULTED") == 3
    assert seen.value("openclara_platform_executor_errors_total", reason="failed") == 1
    assert seen.value("openclara_platform_executor_errors_total", reason="timed_out") == 1
    assert seen.value("openclara_platform_executor_errors_total", reason="not_started") == 1
    assert seen.value("openclara_platform_operator_duration_seconds_count", operator="slow", outcome="timed_out") == 1
    # An operator that never started has no duration to report.
    assert seen.value("openclara_platform_operator_duration_seconds_count", operator="greedy") is None
    assert seen.value("openclara_platform_queue_wait_seconds_count", priority="HIGHER") == 4


async def test_a_canceled_job_and_the_queue_behind_a_running_one(metered: Metered) -> None:
    platform, metrics, _ = metered
    running = await run_one(platform, "wait")
    while (await platform.jobs.get(running)).state != JobState.RUNNING:
        await asyncio.sleep(0.01)
    queued = [await run_one(platform, "fine", priority=p) for p in (JobPriority.LOWER, JobPriority.LOWER)]
    metrics.refresh(Snapshot(await platform.jobs.counts(), platform.scheduler.queued_by_priority(),
                             NodeSample(1, 0.0, 0.0, 0, 0, ()), ()))
    seen = figures(metrics)
    assert seen.value("openclara_platform_queue_depth", priority="LOWER") == 2
    assert seen.value("openclara_platform_queue_depth", priority="NORMAL") == 0
    assert seen.value("openclara_platform_jobs", state="RUNNING", priority="NORMAL") == 1
    assert seen.value("openclara_platform_jobs", state="PENDING", priority="LOWER") == 2
    await platform.service.cancel(running, "test")
    for job_id in queued:
        await platform.wait_stopped(job_id)
    seen = figures(metrics)
    assert seen.value("openclara_platform_jobs_finished_total", status="CANCELED") == 1
    assert seen.value("openclara_platform_jobs_finished_total", status="HEALTHY") == 2


def test_a_gpu_that_disappears_leaves_no_stale_reading() -> None:
    metrics = PlatformMetrics()
    node = NodeSample(4, 0.25, 1.0, 8 << 30, 2 << 30, (DiskSample("data", 100, 40),))
    two = (GpuSample(0, 0x3B, 0.5, 1000, 3000, 0.75), GpuSample(1, 0xAF, 0.1, 4000, 0, 0.0))
    metrics.refresh(Snapshot({}, {}, node, two))
    assert figures(metrics).value("openclara_platform_gpu_utilization_ratio", gpu="1") == 0.1
    metrics.refresh(Snapshot({}, {}, node, two[:1]))
    seen = figures(metrics)
    assert seen.value("openclara_platform_gpus") == 1
    assert seen.value("openclara_platform_gpu_utilization_ratio", gpu="1") is None
    assert seen.value("openclara_platform_gpu_memory_used_bytes", gpu="0", pcie_id=str(0x3B)) == 3000 * 1024 * 1024
    assert seen.value("openclara_platform_node_cpu_utilization_ratio") == 0.25
    assert seen.value("openclara_platform_node_disk_available_bytes", volume="data") == 40
    assert seen.total("openclara_platform_jobs") == 0 and len(seen.samples("openclara_platform_jobs")) == 12
