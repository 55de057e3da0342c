"""DICOM configuration: AE titles, sources and destinations (list, create, edit, delete), C-ECHO a
destination, and the association history. Changes go to the adapter's Clara-compatible config API."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from console.backend import ENTITY_PATHS, ServiceError
from console.views.page import backend, fragment, render, require, service_error
from openclara.auth.roles import Role

router = APIRouter()
HISTORY = 50


async def dicom_context(request: Request) -> dict[str, Any]:
    adapter = backend(request).adapter
    calls = [adapter.call("GET", f"/api/config/{path}") for path in ENTITY_PATHS.values()]
    calls.append(adapter.call("GET", "/api/associations", params={"limit": HISTORY}))
    try:
        *entities, associations = await asyncio.gather(*calls)
    except ServiceError as failed:
        return {"aetitles": [], "sources": [], "destinations": [], "associations": [], "error": str(failed)}
    return {**dict(zip(ENTITY_PATHS, entities, strict=True)), "associations": associations, "error": None}


@router.get("/dicom", response_class=HTMLResponse)
async def dicom(request: Request) -> HTMLResponse:
    return render(request, "dicom.html", "DICOM configuration", "/dicom", **await dicom_context(request))


@router.get("/dicom/live", response_class=HTMLResponse)
async def dicom_live(request: Request) -> HTMLResponse:
    return fragment(request, "dicom_live.html", **await dicom_context(request))


def _path(kind: str) -> str:
    if kind not in ENTITY_PATHS:
        raise HTTPException(404, f"no DICOM configuration kind {kind!r}: one of {', '.join(ENTITY_PATHS)}")
    return f"/api/config/{ENTITY_PATHS[kind]}"


async def _forward(request: Request, method: str, path: str, body: Any = None) -> JSONResponse:
    require(request, Role.ADMIN)
    try:
        answer = await backend(request).adapter.call(method, path, body=body)
    except ServiceError as failed:
        return service_error(failed)
    return JSONResponse(answer)


@router.post("/api/dicom/{kind}")
async def create(request: Request, kind: str) -> JSONResponse:
    return await _forward(request, "POST", _path(kind), await request.json())


@router.put("/api/dicom/{kind}/{name}")
async def update(request: Request, kind: str, name: str) -> JSONResponse:
    return await _forward(request, "PUT", f"{_path(kind)}/{name}", await request.json())


@router.delete("/api/dicom/{kind}/{name}")
async def delete(request: Request, kind: str, name: str) -> JSONResponse:
    return await _forward(request, "DELETE", f"{_path(kind)}/{name}")


@router.post("/api/dicom/destinations/{name}/echo")
async def echo(request: Request, name: str) -> JSONResponse:
    require(request, Role.OPERATOR)
    try:
        # 502 carries the C-ECHO's own answer (success false): show it, do not turn it into an error.
        answer = await backend(request).adapter.call("POST", f"/api/config/destinationaetitle/{name}/cecho", ok=(502,))
    except ServiceError as failed:
        return service_error(failed)
    return JSONResponse(answer)
