"""Overview: services up or down, studies today, jobs by state, exports pending and failed, the disk.

The disk is the DICOM adapter's spool file system as the adapter itself measures it against its own
watermark (`openclara_dicom_spool_disk_*` on its /metrics): the figure that decides whether it refuses
new studies, wherever the console runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console.backend import Backend, ServiceError
from console.views.page import backend, fragment, render
from openclara.metrics import Figures, ScrapeError, metric_name

router = APIRouter()
JOB_STATES = ("PENDING", "RUNNING", "STOPPED")
TASK_STATES = ("Pending", "InProgress", "Succeeded", "Failed")


@dataclass(frozen=True)
class Disk:
    used_fraction: float
    watermark_fraction: float
    free_gb: float
    over: bool


def spool_disk(figures: Figures) -> Disk | None:
    """The adapter's spool disk from its figures; None when it does not export them (no spool yet)."""
    size = figures.value(metric_name("dicom", "spool_disk_size", "bytes"))
    available = figures.value(metric_name("dicom", "spool_disk_available", "bytes"))
    reserved = figures.value(metric_name("dicom", "spool_disk_reserved", "bytes"))
    if size is None or available is None or reserved is None or size <= 0:
        return None
    # The adapter refuses new data once available falls to reserved (storage.disk.DiskUsage.has_room).
    return Disk(1 - available / size, 1 - reserved / size, available / 2**30, available <= reserved)


async def _disk(source: Backend) -> Disk | None:
    try:
        return spool_disk(await source.adapter_figures())
    except ScrapeError:
        return None


def _start_of_today() -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0, 0, 0, -1))


async def _studies_today(source: Backend) -> int | None:
    try:
        answer = await source.adapter.call("GET", "/api/payloads/count", params={"since": _start_of_today()})
    except ServiceError:
        return None
    return int(answer["count"])


async def _jobs_by_state(source: Backend) -> Counter[str] | None:
    try:
        return await source.jobs.counts_by_state()
    except Exception:  # the platform is down: the overview shows that instead of failing
        return None


async def _tasks_by_state(source: Backend) -> Counter[str] | None:
    try:
        per_agent = await source.task_counts()
    except ServiceError:
        return None
    total: Counter[str] = Counter()
    for counts in per_agent.values():
        total.update(counts)
    return total


async def _services(source: Backend) -> list[tuple[str, bool]]:
    platform, results, adapter = await asyncio.gather(source.platform_up(), source.results.up(), source.adapter.up())
    return [("Platform API", platform), ("Results service", results), ("DICOM adapter", adapter)]


async def summary(source: Backend) -> dict[str, Any]:
    services, studies, jobs, tasks, disk = await asyncio.gather(
        _services(source), _studies_today(source), _jobs_by_state(source), _tasks_by_state(source), _disk(source))
    return {
        "services": services,
        "studies_today": studies,
        "jobs": None if jobs is None else [(state, jobs.get(state, 0)) for state in JOB_STATES],
        "tasks": None if tasks is None else [(state, tasks.get(state, 0)) for state in TASK_STATES],
        "disk": disk,
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return render(request, "overview.html", "Overview", "/", **await summary(backend(request)))


@router.get("/overview/live", response_class=HTMLResponse)
async def overview_live(request: Request) -> HTMLResponse:
    return fragment(request, "overview_live.html", **await summary(backend(request)))
