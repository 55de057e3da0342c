"""Jobs: filtered, paged list; one job's operators on a timeline, logs, outputs (download) and cancel."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from starlette.background import BackgroundTask

from console.job_index import JobFilter
from console.views.page import PAGE_SIZE, Paging, backend, fragment, render, require
from openclara.auth.roles import Role
from platform_api.errors import NotFound, PlatformError
from platform_api.types import JobOperatorDetails, JobPriority, JobState, JobStatusDetails

router = APIRouter()
STATES = tuple(s.name for s in JobState if s is not JobState.UNKNOWN)
PRIORITIES = tuple(p.name for p in JobPriority if p is not JobPriority.UNKNOWN)
MAX_LOG_LINES = 5000


async def jobs_context(request: Request, wanted: JobFilter, offset: int) -> dict[str, Any]:
    source = backend(request)
    try:
        rows, total = await source.jobs.page(wanted, offset, PAGE_SIZE)
        pipelines = {p.pipeline_id: p.name for p in await source.platform.list_pipelines()}
        error = None
    except PlatformError as failed:
        rows, total, pipelines, error = [], 0, {}, f"Platform API: {failed}"
    return {"jobs": rows, "paging": Paging(offset, PAGE_SIZE, total), "filter": wanted, "states": STATES,
            "priorities": PRIORITIES, "pipelines": pipelines, "error": error}


@router.get("/jobs", response_class=HTMLResponse)
async def jobs(request: Request, state: str = "", priority: str = "", pipeline: str = "",
               offset: int = 0) -> HTMLResponse:
    context = await jobs_context(request, JobFilter(state, priority, pipeline), max(0, offset))
    return render(request, "jobs.html", "Jobs", "/jobs", **context)


@router.get("/jobs/live", response_class=HTMLResponse)
async def jobs_live(request: Request, state: str = "", priority: str = "", pipeline: str = "",
                    offset: int = 0) -> HTMLResponse:
    context = await jobs_context(request, JobFilter(state, priority, pipeline), max(0, offset))
    return fragment(request, "jobs_table.html", **context)


def timeline(operators: tuple[JobOperatorDetails, ...]) -> dict[str, Any]:
    """Each operator's waiting (created..started) and running (started..stopped) span, as fractions."""
    now = datetime.now(UTC)
    starts = [o.created or o.started for o in operators if (o.created or o.started)]
    if not starts:
        return {"bars": [], "seconds": 0.0}
    begin = min(t for t in starts if t is not None)
    end = max([o.stopped or now for o in operators if o.started] + [begin])
    span = max((end - begin).total_seconds(), 0.001)

    def at(moment: datetime | None) -> float:
        return 0.0 if moment is None else max(0.0, (moment - begin).total_seconds() / span)

    bars = []
    for o in operators:
        queued, started = at(o.created or o.started), at(o.started)
        stopped = at(o.stopped or (now if o.started else None))
        seconds = ((o.stopped or now) - o.started).total_seconds() if o.started else None
        bars.append({"name": o.name, "status": o.status.name, "queued": queued, "started": started,
                     "stopped": max(stopped, started), "seconds": seconds})
    return {"bars": bars, "seconds": span}


async def job_context(request: Request, job_id: str) -> dict[str, Any]:
    source = backend(request)
    try:
        status: JobStatusDetails = await source.platform.job_status(job_id)
    except NotFound as missing:
        raise HTTPException(404, f"no job {job_id}") from missing
    try:
        files = await source.platform.payload_details(status.payload_id)
    except PlatformError:
        files = []
    return {"job": status, "timeline": timeline(status.operators), "files": files,
            "running": status.state is not JobState.STOPPED}


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job(request: Request, job_id: str) -> HTMLResponse:
    context = await job_context(request, job_id)
    return render(request, "job.html", f"Job {context['job'].name}", "/jobs", **context)


@router.get("/jobs/{job_id}/live", response_class=HTMLResponse)
async def job_live(request: Request, job_id: str) -> HTMLResponse:
    return fragment(request, "job_live.html", **await job_context(request, job_id))


@router.get("/jobs/{job_id}/logs/{operator}", response_class=PlainTextResponse)
async def job_logs(request: Request, job_id: str, operator: str) -> PlainTextResponse:
    lines: list[str] = []
    try:
        async for line in backend(request).platform.read_logs(job_id, operator):
            lines.append(line)
            if len(lines) > MAX_LOG_LINES:
                lines.pop(0)
    except NotFound:
        return PlainTextResponse("(no log yet)")
    return PlainTextResponse("\n".join(lines) or "(no log lines yet)")


@router.get("/jobs/{job_id}/files/{name:path}")
async def job_file(request: Request, job_id: str, name: str) -> FileResponse:
    source = backend(request)
    status = await source.platform.job_status(job_id)
    folder = tempfile.TemporaryDirectory(prefix="clara-console-")
    dest = Path(folder.name) / "download"
    try:
        await source.platform.download(status.payload_id, name, dest)
    except NotFound as missing:
        folder.cleanup()
        raise HTTPException(404, f"no file {name} in the job's payload") from missing
    return FileResponse(dest, filename=Path(name).name, background=BackgroundTask(folder.cleanup))


@router.post("/api/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> JSONResponse:
    require(request, Role.OPERATOR)
    source = backend(request)
    who = request.state.session.name
    try:
        token = await source.platform.cancel_job(job_id, reason=f"canceled in the console by {who}")
    except PlatformError as failed:
        return JSONResponse({"detail": f"Platform API: {failed}"}, status_code=409)
    await source.jobs.forget()
    return JSONResponse({"jobId": token.job_id, "state": token.state.name, "status": token.status.name})
