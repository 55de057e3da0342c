"""GPU metrics: nvidia-smi CSV parsing, and no samples without nvidia-smi."""

from __future__ import annotations

import pytest

from platform_server import gpu_metrics
from platform_server.gpu_metrics import GpuSample


def test_parse_nvidia_smi_csv() -> None:
    csv = "0, 00000000:3B:00.0, 45, 10000, 6000, 16000\n1, 00000000:AF:00.0, [N/A], 1, 2, 3\n"
    assert gpu_metrics.parse(csv) == [GpuSample(0, 0x3B, 0.45, 10000, 6000, 0.375)]


async def test_no_nvidia_smi_means_no_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_metrics.shutil, "which", lambda name: None)
    assert await gpu_metrics.sample() == []
