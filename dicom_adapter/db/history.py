"""`AssociationHistory`: the SCP's association records, queued on the loop and written in batches."""

from __future__ import annotations

import asyncio

import structlog

from dicom_adapter.db.association_repository import AssociationRepository
from dicom_adapter.models import AssociationRecord
from openclara.batches import drain_in_batches

log = structlog.get_logger()


class AssociationHistory:
    def __init__(self, repository: AssociationRepository) -> None:
        self._repository = repository
        self._queue: asyncio.Queue[AssociationRecord] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def association_ended(self, record: AssociationRecord) -> None:
        self._queue.put_nowait(record)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="association-history")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _write_loop(self) -> None:
        await drain_in_batches(self._queue, self._repository.add, _write_failed)


def _write_failed(batch: list[AssociationRecord]) -> None:
    log.exception("history.write_failed", records=len(batch))
