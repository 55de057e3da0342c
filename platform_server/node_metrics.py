"""The node's CPU, memory and disks, read from /proc and statvfs (Linux; no dependency needed for four numbers).

CPU utilisation is the busy share of all CPUs between two readings (the first reading covers the time
since boot), so each scrape reports the interval since the previous one, as Clara's node monitor did.
On a system without /proc the CPU and memory figures read 0; disks are measured everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# /proc/stat's cpu line: user nice system idle iowait irq softirq steal (guest time is inside user already).
_IDLE_FIELDS = (3, 4)
_COUNTED_FIELDS = 8


@dataclass(frozen=True)
class DiskSample:
    volume: str
    total: int
    available: int


@dataclass(frozen=True)
class NodeSample:
    cpus: int
    cpu_utilization: float
    load1: float
    memory_total: int
    memory_available: int
    disks: tuple[DiskSample, ...]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def cpu_times(stat: str) -> tuple[int, int]:
    """(busy, total) jiffies of the aggregate `cpu` line of /proc/stat; (0, 0) when there is none."""
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:1 + _COUNTED_FIELDS]]
            idle = sum(ticks[i] for i in _IDLE_FIELDS if i < len(ticks))
            return sum(ticks) - idle, sum(ticks)
    return 0, 0


def memory(meminfo: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo (kB there)."""
    values: dict[str, int] = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return values.get("MemTotal", 0), values.get("MemAvailable", 0)


def disk(volume: str, path: Path) -> DiskSample:
    """The file system holding `path` (its nearest existing parent when it is not made yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    stats = os.statvfs(path)
    return DiskSample(volume, stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize)


class NodeReader:
    """Reads the node; `volumes` names the folders whose file systems matter (data, payloads, models)."""

    def __init__(self, volumes: Mapping[str, Path], proc: Path = Path("/proc")) -> None:
        self._volumes = dict(volumes)
        self._proc = proc
        self._last = (0, 0)

    def sample(self) -> NodeSample:
        busy, total = cpu_times(_read(self._proc / "stat"))
        last_busy, last_total = self._last
        self._last = (busy, total)
        elapsed = total - last_total
        utilization = (busy - last_busy) / elapsed if elapsed > 0 else 0.0
        load = _read(self._proc / "loadavg").split()
        memory_total, memory_available = memory(_read(self._proc / "meminfo"))
        return NodeSample(
            cpus=os.cpu_count() or 0, cpu_utilization=min(1.0, max(0.0, utilization)),
            load1=float(load[0]) if load else 0.0, memory_total=memory_total, memory_available=memory_available,
            disks=tuple(disk(volume, path) for volume, path in self._volumes.items()),
        )
