"""Payload cleanup: delete a finished job's payload through the Platform API after the retention time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import structlog

from results_service.metrics import Metrics
from results_service.models import FinishedJob
from results_service.repository import TaskRepository
from results_service.settings import CleanupSettings

log = structlog.get_logger()


class PayloadAlreadyGone(Exception):
    """Raised by a deleter when the platform no longer has the payload (someone deleted it already)."""


class PayloadDeleter(Protocol):
    """The one Platform API call the cleanup needs (real: `platform_api.PlatformClient`)."""

    async def delete_payload(self, payload_id: str) -> None: ...


class PayloadCleaner:
    """Finds jobs whose tasks are all Succeeded/Failed for `retainDataForMinutes` and deletes their payload."""

    def __init__(
        self,
        repo: TaskRepository,
        deleter: PayloadDeleter,
        settings: CleanupSettings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._deleter = deleter
        self._settings = settings
        self._metrics = metrics or Metrics()
        self._now = clock

    async def run_once(self) -> list[str]:
        """One pass; returns the job ids whose payload is now gone."""
        cutoff = self._now() - self._settings.retain_data_for_minutes * 60
        cleaned = []
        for job in await self._repo.finished_jobs(cutoff):
            if await self._clean(job):
                cleaned.append(job.job_id)
        return cleaned

    async def _clean(self, job: FinishedJob) -> bool:
        # A task may have been registered or re-driven since the scan: never delete under an active task.
        if await self._repo.job_is_active(job.job_id):
            return False
        if not job.payload_id:
            await self._repo.record_cleanup(job, self._now(), "no-payload")
            return True
        try:
            await self._deleter.delete_payload(job.payload_id)
            outcome = "deleted"
        except PayloadAlreadyGone:
            outcome = "already-gone"
        except Exception as exc:
            # The platform may be restarting; the next pass tries again.
            log.warning("cleanup.payload.delete_failed", job_id=job.job_id, payload_id=job.payload_id, error=str(exc))
            self._metrics.payload_deletions.labels("error").inc()
            return False
        await self._repo.record_cleanup(job, self._now(), outcome)
        self._metrics.payload_deletions.labels(outcome).inc()
        log.info("cleanup.payload.deleted", job_id=job.job_id, payload_id=job.payload_id, outcome=outcome)
        return True
