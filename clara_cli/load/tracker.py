"""Follows each sent study through the stack by polling: adapter payloads, platform jobs, export tasks.

    adapter  GET /api/payloads          groupKey = the study UID -> payload closed, the job of each pipeline
    platform Jobs.List (active jobs), Jobs.Status once per job that left it -> job running, job done
    results  GET /api/tasks?jobId=...   every task of the job Succeeded -> export delivered (its `updated`)

Payload and job stages are the poll that first saw them, so they are as fine as the poll interval: the
platform's own job timestamps are whole seconds (Clara's wire format). The results service's are
milliseconds, so export delivered is exact.

Every call carries the CLI's token (`auth_headers`) and TLS settings. A study is finished when its export
was delivered, when its jobs stopped and no export task appeared within `export_grace` seconds (a
pipeline that exports nothing), or when something failed (payload faulted, job not healthy, task Failed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from clara_cli.load.records import EXPORTED, JOB_DONE, JOB_RUNNING, PAYLOAD_CLOSED, StudyRecord
from platform_api import JobDetails, JobState, JobStatus, PlatformClient

_OPEN_PAYLOAD = "receiving"
_SUBMITTED = frozenset({"submitted", "done"})


class TrackingError(Exception):
    """A service refused the tracker's calls for good (no token, wrong role, wrong endpoint)."""


def canonical_job_id(job_id: str) -> str:
    return job_id.replace("-", "").lower()


def _iso_epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StageTracker:
    """Polls the three services for the records given to `poll`; `http` carries the token and TLS."""

    def __init__(self, http: httpx.AsyncClient, platform: PlatformClient, *, adapter: str | None, results: str | None,
                 export_grace: float = 5.0) -> None:
        self._http = http
        self._platform = platform
        self._adapter = adapter.rstrip("/") if adapter else None  # None: jobs were created directly
        self._results = results.rstrip("/") if results else None  # None: do not follow exports
        self._export_grace = export_grace
        self._jobs: dict[str, JobDetails] = {}  # last seen state of every job we follow
        self._running: dict[str, float] = {}  # job id -> when a poll first saw it running (or stopped)
        self._stopped: dict[str, float] = {}  # job id -> when a poll first saw it stopped

    async def poll(self, records: Sequence[StudyRecord]) -> None:
        pending = [r for r in records if r.sent_at is not None and not r.finished]
        if not pending:
            return
        if self._adapter is not None:
            await self._payloads(pending, window=len(records) - records.index(pending[0]))
        await self._follow_jobs(pending)
        if self._results is not None:
            await self._exports(pending)
        now = time.time()
        for record in pending:
            self._settle(record, now)

    async def _payloads(self, pending: Sequence[StudyRecord], window: int) -> None:
        """The newest payloads: as many as studies were started since the oldest still pending (plus slack)."""
        limit = min(10_000, 2 * window + 50)
        rows: list[dict[str, Any]] = (await self._get(f"{self._adapter}/api/payloads", {"limit": limit})) or []
        by_study = {r.study_uid: r for r in pending}
        now = time.time()
        for row in rows:
            record = by_study.get(str(row.get("groupKey")))
            if record is None:
                continue
            record.payloads.add(str(row["payloadId"]))
            if row["state"] != _OPEN_PAYLOAD:
                record.reach(PAYLOAD_CLOSED, now)
            if row["state"] == "faulted":
                record.error = f"payload faulted: {row.get('error')}"
            for key, job in (row.get("jobs") or {}).items():
                if job.get("jobId"):
                    record.jobs.setdefault(canonical_job_id(job["jobId"]), key)
            if row["state"] in _SUBMITTED:
                record.submitted = True

    async def _follow_jobs(self, pending: Sequence[StudyRecord]) -> None:
        active = {canonical_job_id(j.job_id): j for j in await self._platform.list_jobs(
            states=(JobState.PENDING, JobState.RUNNING))}
        for record in pending:
            for job_id in record.jobs:
                seen = self._jobs.get(job_id)
                if seen is not None and seen.state == JobState.STOPPED:
                    continue
                if job_id in active:
                    self._jobs[job_id] = active[job_id]
                else:  # left the active list (or never entered it between two polls): ask once
                    self._jobs[job_id] = await self._platform.job_status(job_id)
                self._observe(job_id, self._jobs[job_id].state, time.time())

    def _observe(self, job_id: str, state: JobState, now: float) -> None:
        if state in (JobState.RUNNING, JobState.STOPPED):
            self._running.setdefault(job_id, now)
        if state == JobState.STOPPED:
            self._stopped.setdefault(job_id, now)

    async def _exports(self, pending: Sequence[StudyRecord]) -> None:
        for record in pending:
            if JOB_DONE not in record.stages or EXPORTED in record.stages:
                continue
            tasks: list[dict[str, Any]] = []
            for job_id in record.jobs:
                tasks += (await self._get(f"{self._results}/api/tasks", {"jobId": job_id, "limit": 1000})) or []
            if any(t["state"] == "Failed" for t in tasks):
                record.error = "export task failed"
            elif tasks and all(t["state"] == "Succeeded" for t in tasks):
                record.reach(EXPORTED, max(_iso_epoch(t["updated"]) for t in tasks))
                record.exported = True

    def _settle(self, record: StudyRecord, now: float) -> None:
        jobs = [self._jobs[j] for j in record.jobs if j in self._jobs]
        started = [self._running[j] for j in record.jobs if j in self._running]
        if started:
            record.reach(JOB_RUNNING, min(started))
        for job in jobs:
            if job.state == JobState.STOPPED and job.status != JobStatus.HEALTHY:
                record.error = f"job {job.job_id} {job.status.name.lower()}"
        all_stopped = jobs and len(jobs) == len(record.jobs) and all(j.state == JobState.STOPPED for j in jobs)
        if record.submitted and all_stopped:
            record.reach(JOB_DONE, max((self._stopped[j] for j in record.jobs if j in self._stopped), default=now))
            record.done_at = record.done_at or now
        record.finished = record.error is not None or record.exported or (
            record.done_at is not None and (self._results is None or now - record.done_at > self._export_grace))

    async def _get(self, url: str, params: dict[str, Any]) -> Any:
        """One GET; a service that does not answer this time is asked again at the next poll."""
        try:
            response = await self._http.get(url, params=params)
        except httpx.TransportError:
            return None
        if response.status_code in (401, 403, 404):
            raise TrackingError(f"GET {url} answered HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            return None
        return response.json()
