"""The overview's figures: the platform's jobs, node and GPUs as its own /metrics renders them, and the
DICOM adapter's spool figures against its own watermark."""

from __future__ import annotations

import pytest

from console.views.figures import platform_figures, spool_disk
from openclara.metrics import Figures
from platform_server.domain import JobPriority, JobState
from platform_server.gpu_metrics import GpuSample
from platform_server.metrics import PlatformMetrics, Snapshot
from platform_server.node_metrics import DiskSample, NodeSample

GIB = 2**30
MIB = 2**20


def _platform(disks: tuple[DiskSample, ...], gpus: tuple[GpuSample, ...] = ()) -> Figures:
    """A scrape as the platform answers it: its own instruments, rendered."""
    metrics = PlatformMetrics(slots=2)
    metrics.refresh(Snapshot(
        jobs={(JobState.RUNNING, JobPriority.NORMAL): 2, (JobState.PENDING, JobPriority.HIGHER): 1,
              (JobState.PENDING, JobPriority.NORMAL): 3, (JobState.STOPPED, JobPriority.NORMAL): 40,
              (JobState.STOPPED, JobPriority.LOWER): 2},
        queued={JobPriority.HIGHER: 1, JobPriority.NORMAL: 2},
        node=NodeSample(cpus=8, cpu_utilization=0.25, load1=1.5, memory_total=16 * GIB,
                        memory_available=4 * GIB, disks=disks),
        gpus=gpus))
    return Figures.parse(metrics.render().decode())


def test_jobs_by_state_running_against_slots_and_the_queue_by_priority() -> None:
    jobs = platform_figures(_platform(())).jobs
    assert jobs is not None
    assert jobs.by_state == [("PENDING", 4), ("RUNNING", 2), ("STOPPED", 42)]
    assert (jobs.running, jobs.slots) == (2, 2)
    assert jobs.queued == [("HIGHER", 1), ("NORMAL", 2)]  # highest first, empty priorities left out
    assert jobs.queued_total == 3


def test_node_cpu_memory_and_folders_on_one_file_system_shown_once() -> None:
    shared = (DiskSample("data", 100 * GIB, 30 * GIB), DiskSample("payloads", 100 * GIB, 30 * GIB),
              DiskSample("models", 500 * GIB, 400 * GIB))
    node = platform_figures(_platform(shared)).node
    assert node is not None
    assert (node.cpus, node.cpu_fraction, node.load1) == (8, 0.25, 1.5)
    assert node.memory is not None
    assert node.memory.used_fraction == pytest.approx(0.75)
    assert node.memory.available_gib == pytest.approx(4)
    assert [(d.label, round(d.used_fraction, 2), d.available_gib) for d in node.disks] == [
        ("data, payloads", 0.7, 30), ("models", 0.2, 400)]


def test_gpus_with_utilisation_and_memory_and_none_without_nvidia_smi() -> None:
    gpus = (GpuSample(1, 0x3C, 0.1, 15_000, 1_000, 0.06), GpuSample(0, 0x3B, 0.9, 4_000, 12_000, 0.75))
    found = platform_figures(_platform((), gpus)).gpus
    assert [(g.index, g.utilization) for g in found] == [("0", 0.9), ("1", 0.1)]
    assert found[0].memory.size == 16_000 * MIB
    assert found[0].memory.used_fraction == pytest.approx(0.75)
    assert platform_figures(_platform(())).gpus == []


def test_a_scrape_without_the_platforms_series_reads_as_not_available() -> None:
    adapter_only = Figures.parse("# TYPE openclara_dicom_payloads gauge\nopenclara_dicom_payloads 0\n")
    found = platform_figures(adapter_only)
    assert (found.jobs, found.node, found.gpus) == (None, None, [])


def _spool(size: int, available: int, reserved: int) -> Figures:
    return Figures.parse(
        "# TYPE openclara_dicom_spool_disk_size_bytes gauge\n"
        f"openclara_dicom_spool_disk_size_bytes {size}\n"
        "# TYPE openclara_dicom_spool_disk_available_bytes gauge\n"
        f"openclara_dicom_spool_disk_available_bytes {available}\n"
        "# TYPE openclara_dicom_spool_disk_reserved_bytes gauge\n"
        f"openclara_dicom_spool_disk_reserved_bytes {reserved}\n"
    )


def test_the_watermark_is_where_available_falls_to_reserved() -> None:
    disk = spool_disk(_spool(size=100 * GIB, available=40 * GIB, reserved=15 * GIB))
    assert disk is not None
    assert disk.used_fraction == pytest.approx(0.60)
    assert disk.watermark_fraction == pytest.approx(0.85)
    assert disk.free_gb == pytest.approx(40)
    assert not disk.over


def test_the_disk_is_over_when_the_adapter_would_refuse() -> None:
    disk = spool_disk(_spool(size=100 * GIB, available=15 * GIB, reserved=15 * GIB))
    assert disk is not None and disk.over


def test_no_disk_without_the_adapters_figures() -> None:
    assert spool_disk(Figures.parse("# TYPE openclara_dicom_payloads gauge\nopenclara_dicom_payloads 0\n")) is None
    assert spool_disk(_spool(size=0, available=0, reserved=0)) is None
