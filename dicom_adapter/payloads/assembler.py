"""`PayloadAssembler`: groups acknowledged instances into payloads with a sliding quiet timeout.

Key = (called AE title, value of the AE's `group_by` tag). Every instance pushes its group's deadline to
now + timeout; when a group stays quiet past its deadline it is closed (state `closed`) and handed to
the submitter. Policies (docs/dicom-adapter.md):
- a re-sent SOP Instance UID within an open payload replaces the earlier copy when the AE has
  `overwrite_same_instance`, otherwise the new copy is dropped (both answered Success by the SCP);
- an instance arriving after its group closed opens a new payload (the closed one is already on its way);
- an instance without the grouping tag is grouped under the empty value, never dropped (Clara leaked it);
- a group whose quiet period passed stays open while its AE title is still receiving an instance that
  began before the deadline: it may belong to the group (a 268 MB instance can take longer than the
  timeout to arrive, and closing then split the study into two jobs). Instances begun after the
  deadline do not hold it, so a busy AE title does not keep finished studies open.
Each batch is recorded in SQLite in one transaction before its groups can close, so a closed payload
always lists every instance that was acknowledged for it.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from dicom_adapter.db.payload_repository import IngestBatch, PayloadRepository
from dicom_adapter.models import ClaraAeTitle, JobPriority, Payload, PayloadState, StoredInstance
from openclara.batches import drain_in_batches, take_queued

log = structlog.get_logger()

STUDY_INSTANCE_UID = "0020,000D"
SERIES_INSTANCE_UID = "0020,000E"
DEFAULT_TIMEOUT_SECONDS = 5.0
BATCH_LIMIT = 1000
HOLD_RECHECK_SECONDS = 0.05  # how often a held group looks again whether its instance has arrived

InProgress = Callable[[], Iterable[tuple[str, float]]]
"""(called AE title, monotonic start) of each instance being received now (the SCP's)."""


class ClaraAeLookup(Protocol):
    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle | None: ...


class SpoolFiles(Protocol):
    def remove(self, path: Path) -> None: ...


def group_value(instance: StoredInstance, group_by: str) -> str:
    """The grouping value of `instance` for tag `group_by` ("GGGG,EEEE"); "" when absent."""
    tag = group_by.upper()
    if tag == STUDY_INSTANCE_UID:
        return instance.study_instance_uid
    if tag == SERIES_INSTANCE_UID:
        return instance.series_instance_uid
    extra = {key.upper(): value for key, value in instance.extra_tags.items()}
    return extra.get(tag, "")


@dataclass
class _OpenGroup:
    payload_id: str
    called_ae_title: str
    group_key: str
    deadline: float  # on the monotonic clock
    instances: dict[str, Path] = field(default_factory=dict)  # SOP Instance UID -> spool file
    recheck: float = 0.0  # held past its deadline: look again then


class PayloadAssembler:
    """Implements `InstanceSink.instance_stored`; a worker task records batches, a timer closes groups."""

    def __init__(
        self,
        repository: PayloadRepository,
        registry: ClaraAeLookup,
        spool: SpoolFiles,
        on_closed: Callable[[str], None],
        *,
        minimum_timeout: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        in_progress: InProgress = tuple,
    ) -> None:
        """`in_progress`: what the SCP is receiving right now, on `clock`'s time line (default: nothing)."""
        self._repository = repository
        self._registry = registry
        self._spool = spool
        self._on_closed = on_closed
        self._minimum_timeout = minimum_timeout
        self._clock = clock
        self._wall_clock = wall_clock
        self._in_progress = in_progress
        self._unassigned: Counter[str] = Counter()  # per called AE title: handed over, not assigned yet
        self._queue: asyncio.Queue[StoredInstance] = asyncio.Queue()
        self._open: dict[tuple[str, str], _OpenGroup] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.instances_recorded = 0

    # InstanceSink side: on the event loop, never blocks -----------------------------------------------

    def instance_stored(self, instance: StoredInstance) -> None:
        self._unassigned[instance.called_ae_title] += 1
        self._queue.put_nowait(instance)

    @property
    def open_payloads(self) -> int:
        return len(self._open)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._record_loop(), name="assembler-record"),
            asyncio.create_task(self._timer_loop(), name="assembler-timer"),
        ]

    async def stop(self) -> None:
        """Record everything queued; open groups stay `receiving` in the DB and resume after restart."""
        await self.flush()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def flush(self) -> None:
        """Wait until every queued instance is recorded."""
        if self._tasks:
            await self._queue.join()
        else:
            batch = take_queued(self._queue, BATCH_LIMIT)
            if batch:
                await self.ingest(batch)

    def restore(self, payload: Payload, instances: Sequence[StoredInstance]) -> None:
        """Re-open a payload found `receiving` after a restart; it closes after one full timeout."""
        group = _OpenGroup(
            payload_id=payload.payload_id,
            called_ae_title=payload.called_ae_title,
            group_key=payload.group_key,
            deadline=self._clock() + self._timeout(payload.called_ae_title),
            instances={i.sop_instance_uid: i.path for i in instances},
        )
        self._open[(payload.called_ae_title, payload.group_key)] = group
        self._wake.set()

    async def ingest(self, instances: Sequence[StoredInstance]) -> None:
        """Assign `instances` to payloads and record them (one transaction), then drop discarded copies."""
        async with self._lock:
            try:
                batch, discarded = self._assign(instances)
                await self._repository.apply(batch)
            finally:  # recorded or not (then the restart scan finds the files), they hold nothing any more
                for instance in instances:
                    if self._unassigned[instance.called_ae_title] > 0:
                        self._unassigned[instance.called_ae_title] -= 1
        for path in [*discarded, *(Path(p) for p in batch.superseded)]:
            self._remove(path)
        self.instances_recorded += len(batch.instances)
        self._wake.set()

    async def close_due(self) -> list[str]:
        """Close every group whose quiet period has passed; returns their payload ids."""
        closed: list[str] = []
        async with self._lock:
            now = self._clock()
            arriving = list(self._in_progress())
            # Acknowledged but not assigned yet (the record loop takes them next): each may belong to a due
            # group, and the SCP no longer counts it as arriving.
            arriving += [(called, -math.inf) for called, count in self._unassigned.items() if count > 0]
            for key, group in list(self._open.items()):
                if group.deadline <= now and _held(group, arriving):
                    group.recheck = now + HOLD_RECHECK_SECONDS
                elif group.deadline <= now:
                    await self._close(group)
                    del self._open[key]
                    closed.append(group.payload_id)
        for payload_id in closed:
            self._on_closed(payload_id)
        return closed

    def due_within(self, seconds: float) -> bool:
        """Whether a group closes within `seconds` (or is past its deadline, held for an instance)."""
        deadline = self.next_deadline()
        return deadline is not None and deadline <= self._clock() + seconds

    def next_deadline(self) -> float | None:
        return min((max(g.deadline, g.recheck) for g in self._open.values()), default=None)

    def _assign(self, instances: Sequence[StoredInstance]) -> tuple[IngestBatch, list[Path]]:
        new_payloads: list[Payload] = []
        recorded: list[tuple[str, StoredInstance]] = []
        superseded: list[str] = []
        discarded: list[Path] = []
        touched: dict[str, float] = {}
        now = self._clock()
        for instance in instances:
            ae = self._registry.clara_ae_title(instance.called_ae_title)
            group = self._group_for(instance, ae, new_payloads)
            group.deadline = now + self._timeout(instance.called_ae_title)
            touched[group.payload_id] = instance.received_at
            previous = group.instances.get(instance.sop_instance_uid)
            if previous is not None and previous != instance.path:
                if not (ae is not None and ae.overwrite_same_instance):
                    discarded.append(instance.path)
                    log.info("assembler.duplicate_kept_first", payload_id=group.payload_id)
                    continue
                superseded.append(str(previous))
            group.instances[instance.sop_instance_uid] = instance.path
            recorded.append((group.payload_id, instance))
        batch = IngestBatch(new_payloads, recorded, superseded, list(touched.items()))
        return batch, discarded

    def _group_for(self, instance: StoredInstance, ae: ClaraAeTitle | None, created: list[Payload]) -> _OpenGroup:
        key_value = group_value(instance, ae.group_by if ae is not None else STUDY_INSTANCE_UID)
        key = (instance.called_ae_title, key_value)
        group = self._open.get(key)
        if group is None:
            payload_id = uuid.uuid4().hex
            group = _OpenGroup(payload_id, instance.called_ae_title, key_value, deadline=self._clock())
            self._open[key] = group
            now = self._wall_clock()
            created.append(Payload(payload_id, instance.called_ae_title, key_value, PayloadState.RECEIVING, now, now))
            log.info("assembler.payload.opened", payload_id=payload_id, called_ae_title=instance.called_ae_title)
        return group

    async def _close(self, group: _OpenGroup) -> None:
        ae = self._registry.clara_ae_title(group.called_ae_title)
        pipelines = dict(ae.pipelines) if ae is not None else {}
        priority = ae.priority if ae is not None else JobPriority.NORMAL
        await self._repository.close(group.payload_id, pipelines, priority, self._wall_clock())
        log.info(
            "assembler.payload.closed",
            payload_id=group.payload_id,
            called_ae_title=group.called_ae_title,
            instances=len(group.instances),
        )

    def _timeout(self, called_ae_title: str) -> float:
        ae = self._registry.clara_ae_title(called_ae_title)
        timeout = ae.timeout_seconds if ae is not None else DEFAULT_TIMEOUT_SECONDS
        return max(timeout, self._minimum_timeout)

    def _remove(self, path: Path) -> None:
        try:
            self._spool.remove(path)
        except OSError as exc:
            log.warning("assembler.remove_failed", path=str(path), error=str(exc))

    async def _record_loop(self) -> None:
        await drain_in_batches(self._queue, self.ingest, _record_failed, BATCH_LIMIT)

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.next_deadline()
            self._wake.clear()
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
            try:
                await self.close_due()
            except Exception:
                log.exception("assembler.close_failed")
                await asyncio.sleep(1.0)


def _held(group: _OpenGroup, arriving: Sequence[tuple[str, float]]) -> bool:
    """Whether an instance begun before the group's deadline is still arriving for its AE title."""
    return any(called == group.called_ae_title and started <= group.deadline for called, started in arriving)


def _record_failed(batch: list[StoredInstance]) -> None:
    # The files stay in the spool: the next restart re-indexes them (Spool.scan).
    log.exception("assembler.record_failed", instances=len(batch))
