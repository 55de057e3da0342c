"""ExportAgent: lease result tasks, deliver their files to every destination, report the outcome.

One coroutine per leased task (at most `max_concurrent_tasks`); associations per destination are capped
by a semaphore, and a failing destination backs off on its own clock, so it never blocks the others.
Exceptions are mapped to the results-service report here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import structlog

from dicom_adapter.export.backoff import DestinationBackoff, IdleBackoff
from dicom_adapter.export.delivery import Deliverer
from dicom_adapter.export.download import PayloadDownloader
from dicom_adapter.export.errors import (
    DestinationBusyError,
    DestinationUnavailableError,
    ExportError,
    PermanentExportError,
    ResultsServiceError,
    UnknownDestinationError,
)
from dicom_adapter.export.poller import ResultsClient
from dicom_adapter.export.ports import DestinationLookup, PayloadSource
from dicom_adapter.export.progress import ProgressRepository
from dicom_adapter.export.settings import ExportSettings
from dicom_adapter.export.task import ExportTask, destination_names
from dicom_adapter.models import DestinationAeTitle

log = structlog.get_logger()

_LEASE_MARGIN_SECONDS = 30.0  # finish a held task this long before its lease would lapse
_FAILED = "Failed"
_STALE_STATE_SECONDS = 7 * 24 * 3600  # progress and spool of tasks not seen for a week are abandoned
_HELD_FACTOR = 4  # at most this many times max_concurrent_tasks leased at once, held ones included


class ExportAgent:
    """The DICOM adapter's results exporter (agent name = calling AE title)."""

    def __init__(
        self,
        settings: ExportSettings,
        destinations: DestinationLookup,
        *,
        progress: ProgressRepository,
        payloads: PayloadSource,
        results: ResultsClient,
    ) -> None:
        """`progress`, `payloads` and `results` are built by the caller; the agent opens and closes them."""
        self._settings = settings
        self._destinations = destinations
        self._results = results
        self._payloads = payloads
        self._progress = progress
        self._spool_root = settings.resolved_spool_dir()
        self._idle = IdleBackoff(settings.poll_interval_min_seconds, settings.poll_interval_max_seconds)
        self._backoff = DestinationBackoff(settings.retry_backoff_base_seconds, settings.retry_backoff_max_seconds)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[str, int] = {}  # tasks held for a destination slot or backoff, by destination
        self._inflight: set[asyncio.Task[None]] = set()
        self._leases: dict[str, ExportTask] = {}  # the newest lease of each task in self._inflight
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._progress.open()
        self._downloader = PayloadDownloader(self._payloads, self._spool_root)
        self._deliverer = Deliverer(self._settings, self._progress)
        rows = await self._progress.prune(_STALE_STATE_SECONDS)
        folders = self._downloader.prune(_STALE_STATE_SECONDS)
        if rows or folders:
            log.info("export.state.pruned", progress_rows=rows, spool_folders=folders)
        self._stopping.clear()
        self._loop_task = asyncio.create_task(self._poll_loop(), name="export-poll")
        log.info("export.agent.started", agent=self._settings.ae_title,
                 state_dir=str(self._settings.resolved_state_dir()), spool_dir=str(self._spool_root))

    async def stop(self) -> None:
        """Stop leasing, let in-flight tasks finish within `stop_timeout_seconds`, then cancel them."""
        self._stopping.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=self._settings.stop_timeout_seconds)
            for task in pending:
                task.cancel()  # the lease lapses; persisted progress lets the next run resume
            if pending:
                await asyncio.wait(pending)
        await self._results.aclose()
        await _close(self._payloads)
        await self._progress.close()
        log.info("export.agent.stopped", agent=self._settings.ae_title)

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            free = self._free_slots()
            if free <= 0:
                # Re-check soon rather than wait for a completion: a task that starts waiting for its
                # destination also frees a slot.
                await self._sleep(self._settings.poll_interval_min_seconds)
                continue
            try:
                tasks = await self._results.lease(min(free, self._settings.lease_size))
            except ResultsServiceError as exc:
                log.warning("export.lease.failed", error=str(exc), retry_in=self._idle.current)
                tasks = []
            except Exception:  # boundary: the poll loop must outlive any bug in one lease
                log.exception("export.lease.crashed")
                tasks = []
            # Only already-running tasks handed back (see _spawn) count as idle: no hot loop on them.
            spawned = [task for task in tasks if self._spawn(task)]
            if not spawned:
                await self._sleep(self._idle.idle())
                continue
            self._idle.busy()

    def _free_slots(self) -> int:
        """Tasks we may lease now. Tasks held for a busy or backing-off destination do not count, so a
        hung destination cannot starve the others; a hard cap still bounds the leases we hold."""
        limit = self._settings.max_concurrent_tasks
        active = len(self._inflight) - sum(self._waiting.values())
        return min(limit - active, _HELD_FACTOR * limit - len(self._inflight))

    def _spawn(self, task: ExportTask) -> bool:
        """Start a pass over `task`; False when one is already running."""
        if task.task_id in self._leases:
            # The lease lapsed while we were still delivering (a slow destination) and the results service
            # handed the task back to us: a second pass would race the first over the same files and spool
            # folder and send duplicates. The running pass carries on and reports under this newer lease
            # (the service rejects a report under the lapsed one as stale).
            log.warning("export.task.lease_overlap", task_id=task.task_id)
            self._leases[task.task_id] = task
            return False
        job = asyncio.create_task(self._process(task), name=f"export-{task.task_id}")
        self._leases[task.task_id] = task
        self._inflight.add(job)
        job.add_done_callback(self._inflight.discard)
        job.add_done_callback(lambda _: self._leases.pop(task.task_id, None))
        return True

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _process(self, task: ExportTask) -> None:
        """Deliver `task` and report it; every exception ends here as a results-service report."""
        log.info(
            "export.task.started", task_id=task.task_id, job_id=task.job_id, files=len(task.uris), retries=task.retries
        )
        try:
            destinations = await self._resolve(task)
            files = await self._downloader.fetch(task, list(task.uris))
            outcomes = await asyncio.gather(
                *(self._deliver_to(task, dest, files) for dest in destinations), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    raise outcome  # cancellation: no report; the lease lapses and progress lets a re-run resume
            failed = [
                _named(d.name, o) for d, o in zip(destinations, outcomes, strict=True) if isinstance(o, Exception)
            ]
            await self._report(task, failed)
        except ExportError as exc:
            await self._report(task, [exc])
        except Exception as exc:  # boundary: a bug must not kill the agent nor leave the task leased silently
            log.exception("export.task.crashed", task_id=task.task_id)
            await self._report(task, [exc])

    async def _resolve(self, task: ExportTask) -> list[DestinationAeTitle]:
        resolved: list[DestinationAeTitle] = []
        for name in destination_names(task.parameters):
            destination = await self._destinations.destination(name)
            if destination is None:
                raise UnknownDestinationError(
                    f"unknown destination {name!r}: no DICOM destination with that name is configured "
                    f"(add it with `clara dicom create dest` or the adapter's REST API, then redrive the task)"
                )
            resolved.append(destination)
        return resolved

    async def _deliver_to(self, task: ExportTask, destination: DestinationAeTitle, files: dict[str, Path]) -> None:
        key = destination.name.lower()
        slots = self._slots.setdefault(key, asyncio.Semaphore(self._settings.max_associations_per_destination))
        if slots.locked() or self._backoff.remaining(key) > 0:
            await self._hold(task, destination, slots)
        else:
            await slots.acquire()
        try:
            await self._deliverer.deliver(task.task_id, destination, files)
        except ExportError as exc:
            if not isinstance(exc, PermanentExportError | DestinationBusyError):
                delay = self._backoff.failed(key, str(exc))
                log.warning("export.destination.backoff", destination=destination.name, seconds=delay, error=str(exc))
            raise
        finally:
            slots.release()
        self._backoff.succeeded(key)

    async def _hold(self, task: ExportTask, destination: DestinationAeTitle, slots: asyncio.Semaphore) -> None:
        """Wait for the destination's backoff and a free association slot, within the task's lease.

        Raises DestinationBusyError (the task goes back to the queue) when too many tasks are already held
        for this destination or the wait would outlive the lease.
        """
        key = destination.name.lower()
        if self._waiting.get(key, 0) >= self._settings.max_concurrent_tasks:
            raise DestinationBusyError(f"{destination.name}: {self._waiting[key]} tasks already wait for it")
        budget = (task.lease_expires - time.time() - _LEASE_MARGIN_SECONDS) if task.lease_expires else 60.0
        remaining = self._backoff.remaining(key)
        if remaining > budget:
            last_error = self._backoff.last_error(key)
            raise DestinationUnavailableError(
                f"{destination.name} is backing off for {remaining:.0f}s after: {last_error}"
            )
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            await self._sleep(remaining)
            async with asyncio.timeout(max(budget - remaining, 1.0)):
                await slots.acquire()
        except TimeoutError as exc:
            raise DestinationBusyError(f"{destination.name}: no free association within the task's lease") from exc
        finally:
            self._waiting[key] -= 1

    async def _report(self, task: ExportTask, errors: list[Exception]) -> None:
        task = self._leases.get(task.task_id, task)  # report under the newest lease we hold
        if not errors:
            state = await self._results.succeed(task)
            log.info("export.task.succeeded", task_id=task.task_id, state=state)
            await self._finish(task)
            return
        reason = "; ".join(str(e) or type(e).__name__ for e in errors)
        permanent = any(isinstance(e, PermanentExportError) for e in errors)
        retry_later = not permanent and task.retries < self._settings.max_retries
        state = await self._results.fail(task, retry_later, reason)
        log.warning("export.task.failed", task_id=task.task_id, retry_later=retry_later, state=state, reason=reason)
        if not retry_later or state == _FAILED:
            await self._finish(task)

    async def _finish(self, task: ExportTask) -> None:
        await self._progress.forget(task.task_id)
        self._downloader.discard(task)

    async def run_until_idle(self, timeout: float = 60.0) -> None:
        """Test hook: wait until a lease comes back empty and nothing is in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._inflight and self._idle.current > self._settings.poll_interval_min_seconds:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("export agent did not become idle")


def _named(destination: str, error: Exception) -> Exception:
    """The error with the destination's name in front, so the reason says where delivery failed."""
    if str(error).startswith(destination):
        return error
    named = type(error)(f"{destination}: {error}") if isinstance(error, ExportError) else error
    named.__cause__ = error.__cause__
    return named


async def _close(source: object) -> None:
    close = getattr(source, "close", None) or getattr(source, "aclose", None)
    if close is not None:
        result = close()
        if asyncio.iscoroutine(result):
            await result
