"""Clara's node monitor (`nvidia.clara.platform.node_monitor.Monitor`): GPU readings streamed once a second.

The readings are the ones `/metrics` exports (`Readings.gpus`). Memory is in MiB, as in Clara.Utilization;
nvidia-smi's query does not include the BAR1 aperture, so `free_bar_1` and `used_bar_1` are 0. The stream
runs until the client cancels it: the request has no `watch` flag, a monitor is watched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from platform_api._generated.nvidia.clara.platform.node_monitor import metrics_pb2, metrics_pb2_grpc
from platform_server.api.edge import ok, streaming, timestamp
from platform_server.api.readings import Readings
from platform_server.domain import now

INTERVAL = 1.0
Details = metrics_pb2.GpuDetails


class MonitorServicer(metrics_pb2_grpc.MonitorServicer):
    def __init__(self, readings: Readings, interval: float = INTERVAL) -> None:
        self._readings = readings
        self._interval = interval

    @streaming(metrics_pb2.MonitorGpuMetricsResponse)
    async def GpuMetrics(self, request: Any, context: Any) -> AsyncIterator[Any]:
        while True:
            gpus = await self._readings.gpus()
            stamp = timestamp(now())
            yield metrics_pb2.MonitorGpuMetricsResponse(header=ok(), gpu_details=[
                Details(device_id=g.index, timestamp=stamp, data=Details.GpuMetrics(
                    memory_utilization=g.memory_utilization, gpu_utilization=g.compute_utilization,
                    free_gpu_memory=g.memory_free_mb, used_gpu_memory=g.memory_used_mb))
                for g in gpus
            ])
            await asyncio.sleep(self._interval)
