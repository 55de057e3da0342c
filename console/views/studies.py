"""Studies: the adapter's payloads (called and calling AE, instances, state) and retry of a faulted one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from console.backend import Backend, ServiceError
from console.views.page import PAGE_SIZE, Paging, backend, fragment, render, require, service_error
from openclara.auth.roles import Role

router = APIRouter()
PAYLOAD_STATES = ("receiving", "closed", "submitting", "submitted", "done", "faulted")
MAX_LISTED = 10_000  # the adapter's own limit on one listing


async def _calling_ae(source: Backend, payload: dict[str, Any]) -> str:
    """The calling AE titles, which the adapter records on the payload's jobs (their metadata)."""
    for job in (payload.get("jobs") or {}).values():
        found = await source.jobs.get(str(job.get("jobId") or ""))
        if found is not None and found.metadata.get("openclara.calling-ae-titles"):
            return found.metadata["openclara.calling-ae-titles"]
    return ""


async def studies_context(request: Request, state: str, offset: int) -> dict[str, Any]:
    source = backend(request)
    params: dict[str, Any] = {"limit": min(MAX_LISTED, offset + PAGE_SIZE + 1)}
    if state in PAYLOAD_STATES:
        params["state"] = state
    try:
        listed = await source.adapter.call("GET", "/api/payloads", params=params)
        error = None
    except ServiceError as failed:
        listed, error = [], str(failed)
    rows = listed[offset:offset + PAGE_SIZE]
    for row in rows:
        try:
            row["callingAeTitle"] = await _calling_ae(source, row)
        except Exception:  # the platform is down: the column stays empty, the page still renders
            row["callingAeTitle"] = ""
    more = len(listed) > offset + PAGE_SIZE
    paging = Paging(offset, PAGE_SIZE, None if more else offset + len(rows))
    return {"rows": rows, "error": error, "state": state, "states": PAYLOAD_STATES, "paging": paging}


@router.get("/studies", response_class=HTMLResponse)
async def studies(request: Request, state: str = "", offset: int = 0) -> HTMLResponse:
    context = await studies_context(request, state, max(0, offset))
    return render(request, "studies.html", "Studies", "/studies", **context)


@router.get("/studies/live", response_class=HTMLResponse)
async def studies_live(request: Request, state: str = "", offset: int = 0) -> HTMLResponse:
    return fragment(request, "studies_live.html", **await studies_context(request, state, max(0, offset)))


@router.post("/api/payloads/{payload_id}/retry")
async def retry_payload(request: Request, payload_id: str) -> JSONResponse:
    require(request, Role.OPERATOR)
    try:
        body = await backend(request).adapter.call("POST", f"/api/payloads/{payload_id}/retry")
    except ServiceError as failed:
        return service_error(failed)
    return JSONResponse(body, status_code=202)
