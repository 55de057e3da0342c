"""What the API routes need from the running adapter, passed in by `app.py` (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request

from dicom_adapter.db import AssociationRepository, ConfigRepository, PayloadRepository
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import DestinationAeTitle, EchoResult

__all__ = ["ApiDependencies", "EchoResult", "PipelineChecker", "Reloadable", "dependencies"]


class Reloadable(Protocol):
    async def reload(self) -> None: ...


class PipelineChecker(Protocol):
    async def pipeline_exists(self, pipeline_id: str) -> bool | None:
        """True/False when the platform answered, None when it could not be asked."""
        ...


@dataclass
class ApiDependencies:
    config: ConfigRepository
    registry: Reloadable
    payloads: PayloadRepository
    associations: AssociationRepository
    metrics: AdapterMetrics
    status: Callable[[], dict[str, Any]]  # {"activeDimseConnections": n, "services": {...}}
    ready: Callable[[], bool]
    echo: Callable[[DestinationAeTitle], Awaitable[EchoResult]]
    pipelines: PipelineChecker | None = None
    minimum_timeout: float = 0.5
    retry_payload: Callable[[str], Awaitable[None]] | None = None  # faulted -> closed, submitted again
    # called AE title -> how many of its faulted payloads were re-opened (after a change of its configuration)
    redrive_faulted: Callable[[str], Awaitable[int]] | None = None


def dependencies(request: Request) -> ApiDependencies:
    deps = request.app.state.deps
    assert isinstance(deps, ApiDependencies)
    return deps
