"""Results and exports: task counts per agent (destination side) and state, the paged task list, retry."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from console.backend import ServiceError
from console.views.page import PAGE_SIZE, Paging, backend, fragment, render, require, service_error
from openclara.auth.roles import Role

router = APIRouter()
TASK_STATES = ("Pending", "InProgress", "Succeeded", "Failed")


async def results_context(request: Request, state: str, agent: str, offset: int) -> dict[str, Any]:
    source = backend(request)
    params: dict[str, Any] = {"limit": PAGE_SIZE + 1, "offset": offset}
    if state in TASK_STATES:
        params["state"] = state
    if agent:
        params["agent"] = agent
    try:
        counts, tasks = await asyncio.gather(source.task_counts(), source.results.call("GET", "/api/tasks",
                                                                                     params=params))
        error = None
    except ServiceError as failed:
        counts, tasks, error = {}, [], str(failed)
    more = len(tasks) > PAGE_SIZE
    tasks = tasks[:PAGE_SIZE]
    return {"counts": sorted(counts.items()), "task_states": TASK_STATES, "tasks": tasks, "state": state,
            "agent": agent, "error": error, "paging": Paging(offset, PAGE_SIZE, None if more else offset + len(tasks))}


@router.get("/results", response_class=HTMLResponse)
async def results(request: Request, state: str = "", agent: str = "", offset: int = 0) -> HTMLResponse:
    context = await results_context(request, state, agent, max(0, offset))
    return render(request, "results.html", "Results and exports", "/results", **context)


@router.get("/results/live", response_class=HTMLResponse)
async def results_live(request: Request, state: str = "", agent: str = "", offset: int = 0) -> HTMLResponse:
    return fragment(request, "results_live.html", **await results_context(request, state, agent, max(0, offset)))


@router.post("/api/tasks/{task_id}/retry")
async def retry_task(request: Request, task_id: str) -> JSONResponse:
    require(request, Role.OPERATOR)
    try:
        body = await backend(request).results.call("POST", f"/api/tasks/{task_id}/retry")
    except ServiceError as failed:
        return service_error(failed)
    return JSONResponse(body)
