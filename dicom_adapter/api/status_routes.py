"""Health (Clara 0.8 paths), Prometheus metrics, association history and payload states."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dicom_adapter.api.deps import ApiDependencies, dependencies
from dicom_adapter.api.openapi import (
    AssociationOut,
    HealthStatus,
    PayloadCountOut,
    PayloadOut,
    RetryOut,
    answers,
    body,
)
from dicom_adapter.errors import EntityConflict
from dicom_adapter.metrics import CONTENT_TYPE
from dicom_adapter.models import PayloadState

router = APIRouter()
Deps = Annotated[ApiDependencies, Depends(dependencies)]


_HEALTHY = {"content": {"application/json": {"schema": {"type": "string", "enum": ["Healthy", "Unhealthy"]}}}}


@router.get("/health/live", response_model=None, summary="Liveness (Clara 0.8 path)",
            responses=answers(public=True, ok={200: {"description": "The process runs", **_HEALTHY}}))
async def live() -> JSONResponse:
    """`"Healthy"` while the process runs; no token needed."""
    return JSONResponse("Healthy")


@router.get("/health/ready", response_model=None, summary="Readiness (Clara 0.8 path)",
            responses=answers(public=True, ok={200: {"description": "Healthy: receiving and submitting", **_HEALTHY},
                                               503: {"description": "Unhealthy: starting or stopping", **_HEALTHY}}))
async def ready(deps: Deps) -> JSONResponse:
    """Whether the adapter takes associations now; no token needed."""
    if deps.ready():
        return JSONResponse("Healthy")
    return JSONResponse("Unhealthy", status_code=503)


@router.get("/health/status", response_model=None, summary="Service states (Clara 0.8 path)",
            responses=answers(ok={200: body(HealthStatus, "Associations, payloads and each service's state")}))
async def status(deps: Deps) -> dict[str, Any]:
    """Open associations, open payloads, pending submissions and each service's state."""
    return deps.status()


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics",
            responses=answers(ok={200: {"description": "Prometheus text format 0.0.4"}}))
async def metrics(deps: Deps) -> Response:
    """Counters and histograms of associations, instances, payloads, jobs and exports."""
    deps.metrics.set_payload_counts(await deps.payloads.counts_by_state())
    return Response(deps.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/associations", response_model=None, summary="Recent associations",
            responses=answers(400, ok={200: body(list[AssociationOut], "Newest first")}))
async def associations(deps: Deps, limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
    """Who connected, when, how much they sent and how it ended (no PHI)."""
    return [
        {
            "associationId": r.association_id,
            "callingAeTitle": r.calling_ae_title,
            "calledAeTitle": r.called_ae_title,
            "host": r.host,
            "port": r.port,
            "startedAt": r.started_at,
            "endedAt": r.ended_at,
            "durationSeconds": round(r.ended_at - r.started_at, 3),
            "instances": r.instances,
            "bytes": r.bytes,
            "failures": r.failures,
            "outcome": r.outcome,
        }
        for r in await deps.associations.recent(limit)
    ]


@router.get("/api/payloads", response_model=None, summary="Recent payloads",
            responses=answers(400, ok={200: body(list[PayloadOut], "Newest first")}))
async def payloads(
    deps: Deps,
    state: Annotated[list[PayloadState] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """Recent payloads and the job recorded for each pipeline (no PHI: UIDs and AE titles only)."""
    rows = await deps.payloads.payloads(state or list(PayloadState), limit)
    result = []
    for p in rows:
        jobs = await deps.payloads.jobs(p.payload_id)
        result.append(
            {
                "payloadId": p.payload_id,
                "calledAeTitle": p.called_ae_title,
                "groupKey": p.group_key,
                "state": p.state.value,
                "instances": p.instance_count,
                "createdAt": p.created_at,
                "lastReceivedAt": p.last_received_at,
                "error": p.error,
                "jobs": {k: {"jobId": j.job_id, "started": j.started} for k, j in jobs.items()},
            }
        )
    return result


@router.get("/api/payloads/count", response_model=None, summary="How many payloads arrived since a time",
            responses=answers(400, ok={200: body(PayloadCountOut, "Payloads created at or after `since`")}))
async def payload_count(
    deps: Deps, since: Annotated[float, Query(ge=0, description="Unix time; 0 counts every payload")] = 0.0
) -> dict[str, Any]:
    """Payloads (studies) created at or after `since`, whatever their state: one indexed COUNT, not a listing."""
    return {"since": since, "count": await deps.payloads.count_since(since)}


@router.post("/api/payloads/{payload_id}/retry", response_model=None, status_code=202,
             summary="Submit a faulted payload again",
             responses=answers(404, 409, ok={202: body(RetryOut, "Accepted: it is submitted again")}))
async def retry_payload(payload_id: str, deps: Deps) -> dict[str, Any]:
    """Submit a faulted payload again, with the AE title's current pipelines (after fixing its config)."""
    if deps.retry_payload is None:
        raise EntityConflict("retrying payloads is not available")
    await deps.retry_payload(payload_id)
    return {"payloadId": payload_id, "state": PayloadState.CLOSED.value}
