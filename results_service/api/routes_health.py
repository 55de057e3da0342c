"""Liveness, readiness (the database answers) and Prometheus metrics."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from openclara.http_guards import problem_response
from results_service.api.problems import problem
from results_service.errors import StoreUnavailable
from results_service.metrics import CONTENT_TYPE
from results_service.queue import TaskQueue

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> JSONResponse:
    return JSONResponse({"status": "live"})


@router.get(
    "/health/ready",
    summary="The service can take requests (database reachable)",
    responses={503: problem_response("Starting up, or the database is unavailable")},
)
async def ready(request: Request) -> Response:
    queue: TaskQueue | None = getattr(request.app.state, "queue", None)
    if queue is None:
        return problem(HTTPStatus.SERVICE_UNAVAILABLE, "starting up", request.url.path)
    try:
        await queue.ping()
    except StoreUnavailable as exc:
        return problem(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), request.url.path)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    queue: TaskQueue = request.app.state.queue
    await queue.refresh_metrics()
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
