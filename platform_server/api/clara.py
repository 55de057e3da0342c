"""Clara servicer: Version (also the readiness probe), Utilization from nvidia-smi, Stop (drain and exit).

Utilization reads the GPUs through the same reader as /metrics and node_monitor (`Readings.gpus`) when given one.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from platform_api._generated.nvidia.clara.platform import clara_pb2, clara_pb2_grpc, common_pb2
from platform_server import gpu_metrics
from platform_server.api.edge import ok, streaming, timestamp, unary
from platform_server.domain import now
from platform_server.gpu_metrics import GpuSample

WATCH_INTERVAL = 1.0
Gpu = clara_pb2.ClaraUtilizationResponse.GpuUtilization


def our_version() -> tuple[int, int, int, str]:
    try:
        text = version("openclara")
    except PackageNotFoundError:
        text = "0.0.0"
    numbers = (text.split("+")[0].split(".") + ["0", "0", "0"])[:3]
    parts = [int("".join(c for c in n if c.isdigit()) or 0) for n in numbers]
    return parts[0], parts[1], parts[2], "openclara"


class ClaraServicer(clara_pb2_grpc.ClaraServicer):
    def __init__(self, request_stop: Callable[[], None],
                 gpus: Callable[[], Awaitable[Sequence[GpuSample]]] = gpu_metrics.sample) -> None:
        self._request_stop = request_stop
        self._gpus = gpus
        self._node = socket.gethostname()

    @unary(clara_pb2.ClaraVersionResponse)
    async def Version(self, request: Any, context: Any) -> Any:
        major, minor, patch, label = our_version()
        return clara_pb2.ClaraVersionResponse(
            header=ok(), version=common_pb2.Version(major=major, minor=minor, patch=patch, label=label))

    @unary(clara_pb2.ClaraStopResponse)
    async def Stop(self, request: Any, context: Any) -> Any:
        # Answer first; the drain (scheduler stop, then server stop) runs after this reply is sent.
        asyncio.get_running_loop().call_later(0.2, self._request_stop)
        return clara_pb2.ClaraStopResponse(header=ok())

    @streaming(clara_pb2.ClaraUtilizationResponse)
    async def Utilization(self, request: Any, context: Any) -> AsyncIterator[Any]:
        while True:
            samples = await self._gpus()
            stamp = timestamp(now())
            yield clara_pb2.ClaraUtilizationResponse(header=ok(), gpu_metrics=[
                Gpu(node_id=self._node, pcie_id=s.pcie_id, compute_utilization=s.compute_utilization,
                    memory_free=s.memory_free_mb, memory_used=s.memory_used_mb,
                    memory_utilization=s.memory_utilization, timestamp=stamp)
                for s in samples
            ])
            if not request.watch:
                return
            await asyncio.sleep(WATCH_INTERVAL)
