"""GPU utilisation read from `nvidia-smi` (no NVML binding needed); an empty list on machines without GPUs."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

QUERY = "index,pci.bus_id,utilization.gpu,memory.free,memory.used,memory.total"


@dataclass(frozen=True)
class GpuSample:
    index: int
    pcie_id: int
    compute_utilization: float
    memory_free_mb: int
    memory_used_mb: int
    memory_utilization: float


def parse(csv: str) -> list[GpuSample]:
    """Parse `nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits` output."""
    samples: list[GpuSample] = []
    for line in csv.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 6:
            continue
        try:
            index, bus = int(fields[0]), fields[1]
            util, free, used, total = float(fields[2]), int(fields[3]), int(fields[4]), int(fields[5])
        except ValueError:
            continue  # "[N/A]" on some boards: skip rather than report made-up numbers
        # Bus id looks like 00000000:3B:00.0: the bus number is Clara's pcie_id.
        parts = bus.split(":")
        pcie = int(parts[1], 16) if len(parts) >= 3 else 0
        samples.append(GpuSample(index, pcie, util / 100.0, free, used, used / total if total else 0.0))
    return samples


async def sample() -> list[GpuSample]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        proc = await asyncio.create_subprocess_exec(
            smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=10)
    except (OSError, TimeoutError):
        return []
    return parse(out.decode(errors="replace"))
