"""Pipelines: the list, and one pipeline's DAG (drawn), definition and jobs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from console.dag import layout, pipeline_edges
from console.job_index import JobFilter
from console.views.page import PAGE_SIZE, Paging, backend, fragment, render
from platform_api.errors import PlatformError

router = APIRouter()


async def pipelines_context(request: Request) -> dict[str, Any]:
    source = backend(request)
    try:
        pipelines = await source.platform.list_pipelines()
        jobs = Counter(job.pipeline_id for job in await source.jobs.jobs())
    except PlatformError as failed:
        return {"rows": [], "error": f"Platform API: {failed}"}
    rows = [{"id": p.pipeline_id, "name": p.name, "jobs": jobs.get(p.pipeline_id, 0)}
            for p in sorted(pipelines, key=lambda p: p.name)]
    return {"rows": rows, "error": None}


@router.get("/pipelines", response_class=HTMLResponse)
async def pipelines(request: Request) -> HTMLResponse:
    return render(request, "pipelines.html", "Pipelines", "/pipelines", **await pipelines_context(request))


@router.get("/pipelines/live", response_class=HTMLResponse)
async def pipelines_live(request: Request) -> HTMLResponse:
    return fragment(request, "pipelines_live.html", **await pipelines_context(request))


async def pipeline_jobs(request: Request, pipeline_id: str, offset: int) -> dict[str, Any]:
    rows, total = await backend(request).jobs.page(JobFilter(pipeline=pipeline_id), offset, PAGE_SIZE)
    return {"jobs": rows, "paging": Paging(offset, PAGE_SIZE, total), "pipeline_id": pipeline_id}


@router.get("/pipelines/{pipeline_id}", response_class=HTMLResponse)
async def pipeline(request: Request, pipeline_id: str, offset: int = 0) -> HTMLResponse:
    details = await backend(request).platform.pipeline_details(pipeline_id)
    names, edges = pipeline_edges(details.dag)
    context = await pipeline_jobs(request, pipeline_id, max(0, offset))
    return render(request, "pipeline.html", f"Pipeline {details.name}", "/pipelines", pipeline=details,
                  graph=layout(names, edges), **context)


@router.get("/pipelines/{pipeline_id}/live", response_class=HTMLResponse)
async def pipeline_live(request: Request, pipeline_id: str, offset: int = 0) -> HTMLResponse:
    return fragment(request, "jobs_table.html", **await pipeline_jobs(request, pipeline_id, max(0, offset)))
