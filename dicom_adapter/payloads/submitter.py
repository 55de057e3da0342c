"""`PayloadSubmitter`: closed payloads -> one started job per configured pipeline, exactly once.

Per pipeline the progress is persisted step by step (job created -> files uploaded -> job started), so
a retry or a restart continues where it stopped and never creates a second job for a pipeline that has
one (Clara retried all pipelines together and duplicated jobs). A job created just before a crash,
before its id was recorded, is found again by the idempotency key in its metadata (`Jobs.List`).
Transient platform failures back off exponentially and retry forever: the delay starts at the AE title's
`jobRetryDelay` (read live, so a change applies to the next retry), doubles, and is capped by
`retry_backoff_max_seconds`; the spool keeps the files, which are deleted only once every job of the
payload has started.

Faulted payloads go back to `closed` by hand (`retry`) or when their AE title's configuration changes
(`redrive_faulted`): both submit to the AE title's current pipelines, except that a pipeline key whose
job already started keeps it. A payload that faults again stays faulted until the next change or retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.db.payload_repository import ClosedPayload, PayloadRepository
from dicom_adapter.errors import PayloadNotFound, PayloadNotRetryable, PlatformRejected, PlatformUnavailable
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import ClaraAeTitle, PayloadJob, PayloadState, StoredInstance
from dicom_adapter.payloads.assembler import ClaraAeLookup, SpoolFiles
from dicom_adapter.payloads.jobs import (
    IDEMPOTENCY_KEY,
    JobPlatform,
    dicom_tag_metadata,
    job_metadata,
    job_name,
    payload_file_name,
)
from openclara.backoff import exponential

if TYPE_CHECKING:
    from dicom_adapter.settings import PlatformClientSettings

log = structlog.get_logger()

Sleep = Callable[[float], Awaitable[None]]
FINAL_STATES = (PayloadState.DONE, PayloadState.FAULTED)
# jobRetryDelay=0 is valid (Clara: retry at once), but retrying forever without a pause would spin
# against a platform that is down: the backoff starts at least here.
MINIMUM_RETRY_DELAY_SECONDS = 0.1


class PayloadSubmitter:
    """Workers take payload ids from a queue; each payload is retried until submitted or faulted."""

    def __init__(
        self,
        repository: PayloadRepository,
        platform: JobPlatform,
        spool: SpoolFiles,
        settings: PlatformClientSettings,
        *,
        registry: ClaraAeLookup | None = None,
        metrics: AdapterMetrics | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repository = repository
        self._platform = platform
        self._spool = spool
        self._settings = settings
        self._registry = registry
        self._metrics = metrics
        self._sleep = sleep
        self._clock = clock
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()  # being worked on right now
        self._again: set[str] = set()  # re-opened while being worked on: run once more afterwards
        self._attempts = 0  # attempts under way now (not those waiting out a backoff)
        self._workers: list[asyncio.Task[None]] = []

    def submit(self, payload_id: str) -> None:
        """Queue a closed payload (called on the event loop by the assembler; never blocks)."""
        if payload_id in self._active:
            # A worker may have just faulted it and not yet let go; a re-opened payload must not be lost.
            self._again.add(payload_id)
        elif payload_id not in self._queued:
            self._queued.add(payload_id)
            self._queue.put_nowait(payload_id)

    @property
    def pending(self) -> int:
        return len(self._queued)

    @property
    def working(self) -> bool:
        """Whether a payload is being handed over right now (a retry waiting out its backoff is not)."""
        return self._attempts > 0

    async def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"submitter-{n}") for n in range(self._settings.concurrent_payloads)
        ]

    async def stop(self) -> None:
        # Cancelling mid-step is safe: every step is recorded only after it succeeded and is idempotent.
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def idle(self) -> None:
        """Wait until every queued payload reached a final state (tests)."""
        await self._queue.join()

    def backoff(self, attempt: int, base_seconds: float | None = None) -> float:
        """Delay before retry `attempt` (0-based): base * 2**attempt, capped; base defaults to the settings'."""
        base = self._settings.retry_backoff_base_seconds if base_seconds is None else base_seconds
        base = max(base, MINIMUM_RETRY_DELAY_SECONDS)
        return exponential(attempt, base, self._settings.retry_backoff_max_seconds)

    async def retry_delay(self, payload_id: str, attempt: int) -> float:
        """The backoff with the payload's AE title's current `jobRetryDelay` as its base.

        Looked up at every retry, so a change applies without a restart. A payload whose AE title was
        deleted meanwhile backs off from `retry_backoff_base_seconds`.
        """
        closed = await self._repository.get(payload_id)
        ae = self._current_ae(closed.payload.called_ae_title) if closed is not None else None
        return self.backoff(attempt, ae.job_retry_delay_ms / 1000 if ae is not None else None)

    async def retry(self, payload_id: str) -> None:
        """Manual retry: a faulted payload -> closed with the AE title's current pipelines -> queued."""
        closed = await self._repository.get(payload_id)
        if closed is None:
            raise PayloadNotFound(f"payload {payload_id!r} not found")
        if closed.payload.state is not PayloadState.FAULTED:
            state = closed.payload.state.value
            raise PayloadNotRetryable(f"payload {payload_id} is {state}; only faulted payloads retry")
        missing, total = await self._missing_files(payload_id)
        if missing:
            raise PayloadNotRetryable(
                f"payload {payload_id}: {missing} of {total} spool files are gone; it cannot be submitted again"
            )
        if not await self._reopen(closed):
            raise PayloadNotRetryable(f"payload {payload_id} is no longer faulted; only faulted payloads retry")
        log.info("submitter.payload.retry", payload_id=payload_id)

    async def redrive_faulted(self, called_ae_title: str) -> int:
        """After a configuration change of `called_ae_title`: re-open its faulted payloads whose files exist.

        Returns how many were queued. Called once per change, never from the retry loop, so a payload
        that faults again waits for the next change (or a manual retry).
        """
        redriven, skipped = 0, 0
        for payload in await self._repository.faulted(called_ae_title):
            missing, total = await self._missing_files(payload.payload_id)
            closed = await self._repository.get(payload.payload_id)
            if missing or closed is None:
                skipped += 1
                log.warning("submitter.payload.redrive_skipped", payload_id=payload.payload_id, missing_files=missing)
                continue
            redriven += int(await self._reopen(closed))
        if redriven or skipped:
            log.info("submitter.payload.redriven", called_ae_title=called_ae_title, count=redriven, skipped=skipped)
        return redriven

    async def _reopen(self, closed: ClosedPayload) -> bool:
        """Faulted -> closed with the pipelines to submit now, then queued; False when it was not faulted."""
        payload_id = closed.payload.payload_id
        ae = self._current_ae(closed.payload.called_ae_title)
        current = dict(ae.pipelines) if ae is not None else closed.pipelines
        # A started job is final: its key keeps the pipeline it ran on, whatever the AE title says now.
        jobs = await self._repository.jobs(payload_id)
        started = {key: job.pipeline_id for key, job in jobs.items() if job.started}
        pipelines = {**current, **started}
        priority = ae.priority if ae is not None else closed.priority
        if not await self._repository.reopen(payload_id, pipelines, priority, self._clock()):
            return False
        self.submit(payload_id)
        return True

    def _current_ae(self, called_ae_title: str) -> ClaraAeTitle | None:
        return self._registry.clara_ae_title(called_ae_title) if self._registry is not None else None

    async def _missing_files(self, payload_id: str) -> tuple[int, int]:
        """(missing, total) spool files of the payload's active instances."""
        paths = [i.path for i in await self._repository.active_instances(payload_id)]
        missing = await asyncio.to_thread(lambda: sum(1 for path in paths if not path.exists()))
        return missing, len(paths)

    async def _work(self) -> None:
        while True:
            payload_id = await self._queue.get()
            self._active.add(payload_id)
            try:
                await self._until_final(payload_id)
            except Exception:
                log.exception("submitter.payload_failed", payload_id=payload_id)
            finally:
                self._active.discard(payload_id)
                if payload_id in self._again:
                    self._again.discard(payload_id)
                    self._queue.put_nowait(payload_id)  # still in `_queued`
                else:
                    self._queued.discard(payload_id)
                self._queue.task_done()

    async def _until_final(self, payload_id: str) -> None:
        attempt = 0
        while True:
            try:
                self._attempts += 1
                try:
                    await self.process(payload_id)
                finally:
                    self._attempts -= 1
                return
            except PlatformUnavailable as exc:
                delay = await self.retry_delay(payload_id, attempt)
                attempt += 1
                if self._metrics is not None:
                    self._metrics.submission_retries.inc()
                log.warning("submitter.retry", payload_id=payload_id, attempt=attempt, delay=delay, error=str(exc))
                await self._repository.set_state(payload_id, PayloadState.CLOSED, error=str(exc))
                await self._sleep(delay)

    async def process(self, payload_id: str) -> PayloadState:
        """One attempt: create/upload/start what is missing. Raises PlatformUnavailable to be retried."""
        closed = await self._repository.get(payload_id)
        if closed is None or closed.payload.state in FINAL_STATES:
            return closed.payload.state if closed is not None else PayloadState.FAULTED
        if closed.payload.state is PayloadState.RECEIVING:
            raise RuntimeError(f"payload {payload_id} is still receiving")
        if not closed.pipelines:
            return await self._fault(payload_id, f"AE title {closed.payload.called_ae_title!r} has no pipelines")
        instances = await self._repository.active_instances(payload_id)
        if closed.payload.state is not PayloadState.SUBMITTED:
            await self._repository.set_state(payload_id, PayloadState.SUBMITTING)
            try:
                await self._submit_all(closed, instances)
            except PlatformRejected as exc:
                return await self._fault(payload_id, str(exc))
            await self._repository.set_state(payload_id, PayloadState.SUBMITTED)
            self._observe_latency(closed)
            log.info("submitter.payload.submitted", payload_id=payload_id, pipelines=len(closed.pipelines))
        await self._remove_files(instances)
        await self._repository.set_state(payload_id, PayloadState.DONE)
        return PayloadState.DONE

    async def _submit_all(self, closed: ClosedPayload, instances: list[StoredInstance]) -> None:
        recorded = await self._repository.jobs(closed.payload.payload_id)
        extra: dict[str, str] = {}
        if self._settings.upload_metadata and instances:
            extra = await asyncio.to_thread(dicom_tag_metadata, instances, self._settings.metadata_dicom_source)
        # Every pipeline's step finishes before this attempt ends: a sibling still creating a job while the
        # next attempt starts could otherwise create a second one.
        results = await asyncio.gather(
            *(
                self._submit_one(closed, key, pipeline_id, recorded.get(key), instances, extra)
                for key, pipeline_id in closed.pipelines.items()
            ),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if isinstance(error, PlatformRejected):
                raise error
        if errors:
            raise errors[0]

    async def _submit_one(
        self,
        closed: ClosedPayload,
        key: str,
        pipeline_id: str,
        job: PayloadJob | None,
        instances: list[StoredInstance],
        extra: dict[str, str],
    ) -> None:
        payload_id = closed.payload.payload_id
        if job is not None and not job.started and job.pipeline_id != pipeline_id:
            # Re-opened after the AE title now names another pipeline for this key: the job recorded for
            # the old one never started, so the current pipeline gets the job (the old one stays unstarted).
            log.info("submitter.job.superseded", payload_id=payload_id, pipeline_key=key, job_id=job.job_id)
            job = None
        resumed = job is not None and job.job_id is not None
        if job is None or job.job_id is None:
            job = await self._create(closed, key, pipeline_id, instances, extra)
        if job.started:
            return
        if not job.uploaded:
            files = [(payload_file_name(i), i.path) for i in instances]
            assert job.platform_payload_id is not None
            how = await self._platform.add_files(job.platform_payload_id, files, self._settings.parallel_uploads)
            if self._metrics is not None:
                self._metrics.handed_files.labels(how).inc(len(files))
            job = replace(job, uploaded=True)
            await self._repository.save_job(job)
        assert job.job_id is not None
        if not (resumed and await self._platform.job_started(job.job_id)):
            await self._platform.start_job(job.job_id)
        await self._repository.save_job(replace(job, started=True))
        if self._metrics is not None:
            self._metrics.jobs_started.inc()
        log.info("submitter.job.started", payload_id=payload_id, pipeline_key=key, job_id=job.job_id)

    async def _create(
        self,
        closed: ClosedPayload,
        key: str,
        pipeline_id: str,
        instances: list[StoredInstance],
        extra: dict[str, str],
    ) -> PayloadJob:
        payload = closed.payload
        job = PayloadJob(payload.payload_id, key, pipeline_id)
        metadata = {**extra, **job_metadata(payload.payload_id, key, payload.called_ae_title, instances)}
        # Only an earlier attempt (crashed or failed after Jobs.Create was sent) can have left a job behind;
        # first attempts skip the Jobs.List round trip.
        resuming = payload.state is PayloadState.SUBMITTING or payload.error is not None
        existing = (
            await self._platform.find_job(pipeline_id, metadata[IDEMPOTENCY_KEY], payload.created_at)
            if resuming
            else None
        )
        if existing is not None:
            log.info("submitter.job.found_existing", payload_id=payload.payload_id, job_id=existing.job_id)
            job = replace(
                job,
                job_id=existing.job_id,
                platform_payload_id=existing.payload_id,
                uploaded=existing.started,
                started=existing.started,
            )
        else:
            name = job_name(payload.called_ae_title, key, closed.closed_at)
            job_id, platform_payload_id = await self._platform.create_job(pipeline_id, name, closed.priority, metadata)
            job = replace(job, job_id=job_id, platform_payload_id=platform_payload_id)
            log.info("submitter.job.created", payload_id=payload.payload_id, pipeline_key=key, job_id=job_id)
        # Recorded before anything else happens to it: a retry continues with this job.
        await self._repository.save_job(job)
        return job

    async def _fault(self, payload_id: str, reason: str) -> PayloadState:
        log.error("submitter.payload.faulted", payload_id=payload_id, reason=reason)
        await self._repository.set_state(payload_id, PayloadState.FAULTED, error=reason)
        return PayloadState.FAULTED

    async def _remove_files(self, instances: list[StoredInstance]) -> None:
        def remove_all() -> None:
            for instance in instances:
                try:
                    self._spool.remove(instance.path)
                except FileNotFoundError:
                    pass

        await asyncio.to_thread(remove_all)

    def _observe_latency(self, closed: ClosedPayload) -> None:
        if self._metrics is not None:
            self._metrics.submission_latency.observe(max(0.0, time.time() - closed.closed_at))
