"""Reconciliation of the spool with SQLite at start, after a restart or a kill -9.

The spool files are the truth about what was acknowledged; SQLite is the truth about where each file
is on its way. At start, before the SCP listens:

- a file SQLite does not know (acknowledged, then the process died before the batch was written) is
  re-indexed through the assembler, as if it had just been received;
- a file of a finished payload (submitted or done), or one superseded by a re-sent copy, is removed;
- a `receiving` payload re-opens for one more quiet timeout;
- `closed`, `submitting` and `submitted` payloads are queued again, oldest first (the submitter is
  idempotent: what the platform has already is found, not made twice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import structlog

from dicom_adapter.models import Payload, PayloadState, StoredInstance

if TYPE_CHECKING:
    from dicom_adapter.db.payload_repository import PayloadRepository
    from dicom_adapter.storage.spool import Spool

log = structlog.get_logger()

_FINISHED = (PayloadState.SUBMITTED, PayloadState.DONE)
_RESUMABLE = [PayloadState.CLOSED, PayloadState.SUBMITTING, PayloadState.SUBMITTED]
_ALL = 10_000_000  # every payload in that state: a restart must not leave any behind


class Reopener(Protocol):
    """What reconciliation needs from the assembler (payloads.PayloadAssembler implements it)."""

    @property
    def open_payloads(self) -> int: ...

    def restore(self, payload: Payload, instances: Sequence[StoredInstance]) -> None: ...

    async def ingest(self, instances: Sequence[StoredInstance]) -> None: ...


class Reconciliation:
    """One pass over spool and database; `run()` once at start, before the assembler and the SCP start."""

    def __init__(
        self,
        spool: Spool,
        payloads: PayloadRepository,
        assembler: Reopener,
        submit: Callable[[str], None],
        group_tag: Callable[[str], str | None],
    ) -> None:
        self._spool = spool
        self._payloads = payloads
        self._assembler = assembler
        self._submit = submit
        self._group_tag = group_tag  # called AE title -> its group-by tag, read from each file found

    async def run(self) -> None:
        started = time.monotonic()
        reindexed, removed = await self._reconcile_files()
        for payload in await self._payloads.payloads([PayloadState.RECEIVING], limit=_ALL):
            self._assembler.restore(payload, await self._payloads.active_instances(payload.payload_id))
        if reindexed:
            await self._assembler.ingest(reindexed)
        pending = await self._payloads.payloads(_RESUMABLE, limit=_ALL)
        for payload in sorted(pending, key=lambda p: p.created_at):
            self._submit(payload.payload_id)
        log.info(
            "adapter.recovered",
            reindexed=len(reindexed),
            removed=removed,
            reopened=self._assembler.open_payloads,
            resubmitted=len(pending),
            seconds=round(time.monotonic() - started, 3),
        )

    async def _reconcile_files(self) -> tuple[list[StoredInstance], int]:
        """Remove the files SQLite says are finished; return the ones it does not know, and how many went."""
        index = await self._payloads.path_index()
        scanned = await asyncio.to_thread(list, self._spool.scan(self._group_tag))
        orphans = [i for i in scanned if str(i.path) not in index]
        known = [(i.path, index[str(i.path)]) for i in scanned if str(i.path) in index]
        stale = [path for path, row in known if row.superseded or row.state in _FINISHED]
        for path in stale:
            self._spool.remove(path)
        return orphans, len(stale)
