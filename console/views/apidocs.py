"""API docs: links to both REST services' own Swagger UI (vendored, no CDN) and the platform's gRPC."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from console.views.page import backend, render

router = APIRouter()


@router.get("/api-docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    settings = backend(request).settings
    services = [("Results service (REST)", f"{settings.results_url}/docs"),
                ("DICOM adapter configuration API (REST)", f"{settings.dicom_api_url}/docs")]
    return render(request, "api_docs.html", "API docs", "/api-docs", services=services,
                  platform=settings.platform_endpoint)


@router.get("/health/live")
async def live() -> JSONResponse:
    return JSONResponse("Healthy")
