"""Readings: the platform's state read once per request, for `/metrics` and the `node_monitor` service alike.

    jobs/store.counts()  scheduler.queued_by_priority()  node_metrics.NodeReader  gpu_metrics.sample()
                \\                    |                           |                     /
                 +----------------> Snapshot  -> PlatformMetrics.refresh -> render() (Prometheus text)

GPU readings run nvidia-smi (tens of milliseconds): two readers within `GPU_CACHE_SECONDS` share one run,
so a node_monitor watcher and Prometheus scraping together start at most one process a second.
"""

from __future__ import annotations

import asyncio
import time

from platform_server import gpu_metrics
from platform_server.gpu_metrics import GpuSample
from platform_server.jobs.scheduler import Scheduler
from platform_server.jobs.store import JobRepository
from platform_server.metrics import PlatformMetrics, Snapshot
from platform_server.node_metrics import NodeReader

GPU_CACHE_SECONDS = 1.0


class Readings:
    def __init__(self, metrics: PlatformMetrics, jobs: JobRepository, scheduler: Scheduler, node: NodeReader) -> None:
        self.metrics = metrics
        self._jobs = jobs
        self._scheduler = scheduler
        self._node = node
        self._gpus: tuple[GpuSample, ...] = ()
        self._gpus_read_at = float("-inf")
        self._gpu_lock = asyncio.Lock()

    async def gpus(self) -> tuple[GpuSample, ...]:
        async with self._gpu_lock:
            if time.monotonic() - self._gpus_read_at >= GPU_CACHE_SECONDS:
                self._gpus = tuple(await gpu_metrics.sample())
                self._gpus_read_at = time.monotonic()
            return self._gpus

    async def snapshot(self) -> Snapshot:
        node = await asyncio.to_thread(self._node.sample)
        return Snapshot(await self._jobs.counts(), self._scheduler.queued_by_priority(), node, await self.gpus())

    async def render(self) -> bytes:
        """Prometheus text exposition of every platform metric, the scrape-time ones read now."""
        self.metrics.refresh(await self.snapshot())
        return self.metrics.render()
