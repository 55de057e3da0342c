"""Overview: services up or down, studies today, jobs by state, exports pending and failed, the disk."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console.backend import Backend, ServiceError
from console.views.page import backend, fragment, render

router = APIRouter()
JOB_STATES = ("PENDING", "RUNNING", "STOPPED")
TASK_STATES = ("Pending", "InProgress", "Succeeded", "Failed")


@dataclass(frozen=True)
class Disk:
    used_fraction: float
    watermark_fraction: float
    free_gb: float

    @property
    def over(self) -> bool:
        return self.used_fraction >= self.watermark_fraction


def measure_disk(path: os.PathLike[str] | str, watermark_percent: float) -> Disk:
    while not os.path.exists(path) and os.path.dirname(path) != str(path):
        path = os.path.dirname(path)
    stats = os.statvfs(path)
    total = stats.f_blocks * stats.f_frsize or 1
    free = stats.f_bavail * stats.f_frsize
    return Disk(1 - free / total, watermark_percent / 100, free / 2**30)


def _start_of_today() -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0, 0, 0, -1))


async def _studies_today(source: Backend) -> int | None:
    try:
        payloads = await source.adapter.call("GET", "/api/payloads", params={"limit": 1000})
    except ServiceError:
        return None
    midnight = _start_of_today()
    return sum(1 for p in payloads if float(p.get("createdAt") or 0) >= midnight)


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


async def summary(source: Backend) -> dict[str, Any]:
    platform, results, adapter, studies, jobs, tasks = await asyncio.gather(
        source.platform_up(), source.results.up(), source.adapter.up(),
        _studies_today(source), _jobs_by_state(source), _tasks_by_state(source))
    settings = source.settings
    return {
        "services": [("Platform API", platform), ("Results service", results), ("DICOM adapter", adapter)],
        "studies_today": studies,
        "jobs": None if jobs is None else [(state, jobs.get(state, 0)) for state in JOB_STATES],
        "tasks": None if tasks is None else [(state, tasks.get(state, 0)) for state in TASK_STATES],
        "disk": measure_disk(settings.disk_path, settings.watermark_percent),
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return render(request, "overview.html", "Overview", "/", **await summary(backend(request)))


@router.get("/overview/live", response_class=HTMLResponse)
async def overview_live(request: Request) -> HTMLResponse:
    return fragment(request, "overview_live.html", **await summary(backend(request)))
