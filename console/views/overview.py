"""Overview: services up or down, studies today, jobs, exports, the node and its GPUs, the spool disk.

Jobs, the node and the GPUs are the platform's own figures from its /metrics (`figures.platform_figures`),
the numbers Prometheus and the Grafana dashboards show. The spool disk is the DICOM adapter's file system
as the adapter measures it against its own watermark (`openclara_dicom_spool_disk_*` on its /metrics): the
figure that decides whether it refuses new studies, wherever the console runs. A service whose figures do
not come shows as "not available"; the page still renders.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console.backend import Backend, ServiceError
from console.views.figures import PlatformFigures, SpoolDisk, platform_figures, spool_disk
from console.views.page import backend, fragment, render
from openclara.metrics import ScrapeError

log = structlog.get_logger()

router = APIRouter()
TASK_STATES = ("Pending", "InProgress", "Succeeded", "Failed")


async def _spool_disk(source: Backend) -> SpoolDisk | None:
    try:
        return spool_disk(await source.adapter_figures())
    except ScrapeError:
        return None


async def _platform(source: Backend) -> tuple[PlatformFigures | None, str | None]:
    """The platform's figures, or None and why (its metrics port down, disabled, or refusing the token)."""
    try:
        return platform_figures(await source.platform_figures()), None
    except ScrapeError as exc:
        log.debug("console.platform_metrics.unavailable", reason=str(exc))
        return None, str(exc)


def _start_of_today() -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0, 0, 0, -1))


async def _studies_today(source: Backend) -> int | None:
    try:
        answer = await source.adapter.call("GET", "/api/payloads/count", params={"since": _start_of_today()})
    except ServiceError:
        return None
    return int(answer["count"])


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
    services, studies, (platform, platform_error), tasks, disk = await asyncio.gather(
        _services(source), _studies_today(source), _platform(source), _tasks_by_state(source), _spool_disk(source))
    return {
        "services": services,
        "studies_today": studies,
        "platform": platform,
        "platform_error": platform_error,
        "tasks": None if tasks is None else [(state, tasks.get(state, 0)) for state in TASK_STATES],
        "disk": disk,
    }


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return render(request, "overview.html", "Overview", "/", **await summary(backend(request)))


@router.get("/overview/live", response_class=HTMLResponse)
async def overview_live(request: Request) -> HTMLResponse:
    return fragment(request, "overview_live.html", **await summary(backend(request)))
