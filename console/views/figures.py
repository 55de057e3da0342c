"""What the overview reads from the services' /metrics: the same series Prometheus and Grafana show.

    platform /metrics --Figures--> platform_figures --> Jobs (by state, slots, queue), Node (CPU, memory,
                                                        disks), GPUs
    adapter /metrics  --Figures--> spool_disk -------> the spool disk against the adapter's watermark

Each reader returns None (or no GPUs) when the scrape lacks its series, so a page shows "not available"
rather than a zero that did not happen. docs/monitoring.md lists the series.
"""

from __future__ import annotations

from dataclasses import dataclass

from openclara.metrics import Figures, metric_name

JOB_STATES = ("PENDING", "RUNNING", "STOPPED")
# Highest first: the order an operator reads a queue in (the platform's JobPriority names).
PRIORITIES = ("IMMEDIATE", "HIGHER", "NORMAL", "LOWER")
GIB = 2**30


def _platform(thing: str, unit: str = "") -> str:
    return metric_name("platform", thing, unit)


@dataclass(frozen=True)
class Usage:
    """Something with a size of which part is free: memory, or the file system under some folders."""

    label: str
    size: float
    available: float

    @property
    def used_fraction(self) -> float:
        return 1 - self.available / self.size

    @property
    def available_gib(self) -> float:
        return self.available / GIB

    @property
    def size_gib(self) -> float:
        return self.size / GIB


@dataclass(frozen=True)
class Jobs:
    by_state: list[tuple[str, int]]
    slots: int
    # Started jobs waiting for a slot, by priority (highest first; priorities with none left out).
    queued: list[tuple[str, int]]

    @property
    def running(self) -> int:
        return dict(self.by_state).get("RUNNING", 0)

    @property
    def queued_total(self) -> int:
        return sum(count for _, count in self.queued)


@dataclass(frozen=True)
class Node:
    cpus: int
    cpu_fraction: float
    load1: float
    memory: Usage | None
    # The platform's data, payloads and models folders; folders on one file system share one entry.
    disks: list[Usage]


@dataclass(frozen=True)
class Gpu:
    index: str
    utilization: float
    memory: Usage


@dataclass(frozen=True)
class PlatformFigures:
    jobs: Jobs | None
    node: Node | None
    gpus: list[Gpu]


def platform_figures(figures: Figures) -> PlatformFigures:
    return PlatformFigures(_jobs(figures), _node(figures), _gpus(figures))


def _jobs(figures: Figures) -> Jobs | None:
    name = _platform("jobs")
    if name not in figures.names:
        return None
    by_state = [(state, int(figures.total(name, state=state))) for state in JOB_STATES]
    depth = _platform("queue_depth")
    queued = [(p, int(figures.total(depth, priority=p))) for p in PRIORITIES]
    return Jobs(by_state, int(figures.total(_platform("job_slots"))), [(p, n) for p, n in queued if n > 0])


def _node(figures: Figures) -> Node | None:
    cpus = figures.value(_platform("node_cpus"))
    if cpus is None:
        return None
    memory = _usage("memory", figures.value(_platform("node_memory_size", "bytes")),
                    figures.value(_platform("node_memory_available", "bytes")))
    return Node(int(cpus), figures.value(_platform("node_cpu_utilization", "ratio")) or 0.0,
                figures.value(_platform("node_load1")) or 0.0, memory, _disks(figures))


def _disks(figures: Figures) -> list[Usage]:
    """One entry per file system: folders whose size and free space read the same share it (one scrape
    reads them all at once, so two file systems agreeing to the byte on both is not a worry)."""
    volumes: dict[tuple[float, float], list[str]] = {}
    for sample in figures.samples(_platform("node_disk_size", "bytes")):
        volume = sample.labels.get("volume", "?")
        available = figures.value(_platform("node_disk_available", "bytes"), volume=volume)
        if available is not None and sample.value > 0:
            volumes.setdefault((sample.value, available), []).append(volume)
    return [Usage(", ".join(names), size, available) for (size, available), names in volumes.items()]


def _gpus(figures: Figures) -> list[Gpu]:
    found = []
    for sample in figures.samples(_platform("gpu_utilization", "ratio")):
        index = sample.labels.get("gpu", "?")
        used = figures.value(_platform("gpu_memory_used", "bytes"), gpu=index) or 0.0
        free = figures.value(_platform("gpu_memory_free", "bytes"), gpu=index) or 0.0
        memory = _usage(f"GPU {index} memory", used + free, free)
        if memory is not None:
            found.append(Gpu(index, sample.value, memory))
    return sorted(found, key=lambda gpu: int(gpu.index) if gpu.index.isdigit() else 0)


def _usage(label: str, size: float | None, available: float | None) -> Usage | None:
    if size is None or available is None or size <= 0:
        return None
    return Usage(label, size, available)


@dataclass(frozen=True)
class SpoolDisk:
    used_fraction: float
    watermark_fraction: float
    free_gb: float
    over: bool


def spool_disk(figures: Figures) -> SpoolDisk | None:
    """The adapter's spool disk from its figures; None when it does not export them (no spool yet)."""
    size = figures.value(metric_name("dicom", "spool_disk_size", "bytes"))
    available = figures.value(metric_name("dicom", "spool_disk_available", "bytes"))
    reserved = figures.value(metric_name("dicom", "spool_disk_reserved", "bytes"))
    if size is None or available is None or reserved is None or size <= 0:
        return None
    # The adapter refuses new data once available falls to reserved (storage.disk.DiskUsage.has_room).
    return SpoolDisk(1 - available / size, 1 - reserved / size, available / GIB, available <= reserved)
