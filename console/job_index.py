"""JobIndex: every job of the platform, listed at most once per `max_age` and shared by all pages.

The Platform API lists jobs as one stream without paging, so a page of 50 out of 10,000 jobs is cut
here from one cached list: the pages stay fast whatever the count, and the platform answers one
List per interval however many browsers poll. Only the very first read waits for a listing; later
ones get the list they have while an older-than-`max_age` list is renewed in the background.

Renewing lists only what can have changed: the pending and running jobs, the jobs created since the
newest one known, and the status of each job that left pending/running (it stopped). A stopped job
never changes again, so 10,000 finished jobs cost nothing per renewal; every `FULL_RELIST_SECONDS`
the whole list is taken again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from platform_api.client import PlatformClient
from platform_api.errors import NotFound
from platform_api.types import JobDetails, JobState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACTIVE = (JobState.PENDING, JobState.RUNNING)
# The Platform API has no job deletion, so the full listing is only a safety net; it is rare because
# converting 10,000 jobs holds the console's event loop for a few hundred milliseconds.
FULL_RELIST_SECONDS = 600.0
MAX_STATUS_CALLS = 100  # per renewal; more stopped jobs are picked up by the next ones


@dataclass(frozen=True)
class JobFilter:
    state: str = ""
    priority: str = ""
    pipeline: str = ""

    def matches(self, job: JobDetails) -> bool:
        return ((not self.state or job.state.name == self.state)
                and (not self.priority or job.priority.name == self.priority)
                and (not self.pipeline or job.pipeline_id == self.pipeline))


def _quiet(task: asyncio.Task[None]) -> None:
    """A background listing that failed (the platform is down) leaves the last list; the next read retries."""
    if not task.cancelled():
        task.exception()


class JobIndex:
    def __init__(self, platform: PlatformClient, max_age: float = 2.0) -> None:
        self._platform = platform
        self._max_age = max_age
        self._jobs: list[JobDetails] = []
        self._by_id: dict[str, JobDetails] = {}
        self._listed_at = float("-inf")
        self._full_at = float("-inf")
        self._listed_once = False
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def jobs(self) -> list[JobDetails]:
        """Every job, newest first: the last listing, renewed when older than `max_age`."""
        if not self._listed_once:
            await self._list()
        elif time.monotonic() - self._listed_at > self._max_age and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._list(), name="console-job-list")
            self._refresh.add_done_callback(_quiet)
        return self._jobs

    async def _list(self) -> None:
        async with self._lock:
            if self._listed_once and time.monotonic() - self._listed_at <= self._max_age:
                return
            started = time.monotonic()
            if started - self._full_at > FULL_RELIST_SECONDS or not self._jobs:
                by_id = {str(job.job_id): job for job in await self._platform.list_jobs()}
                self._full_at = started
            else:
                by_id = await self._changes()
            self._jobs = sorted(by_id.values(), key=lambda job: job.created or _EPOCH, reverse=True)
            self._by_id = by_id
            self._listed_at = time.monotonic()
            self._listed_once = True

    async def _changes(self) -> dict[str, JobDetails]:
        """The known jobs updated with what can have changed since the last listing."""
        by_id = dict(self._by_id)
        newest = self._jobs[0].created if self._jobs else None
        active = await self._platform.list_jobs(states=ACTIVE)
        created = await self._platform.list_jobs(created_after=newest) if newest is not None else []
        still_active = {str(job.job_id) for job in active}
        for job in active + created:
            by_id[str(job.job_id)] = job
        stopped = [job_id for job_id, job in self._by_id.items() if job.state in ACTIVE and job_id not in still_active]
        for job_id in stopped[:MAX_STATUS_CALLS]:
            try:
                by_id[job_id] = await self._platform.job_status(job_id)
            except NotFound:
                by_id.pop(job_id, None)
        return by_id

    async def forget(self) -> None:
        """List again now (after an action changed a job), so the next page shows the change."""
        self._listed_at = float("-inf")
        await self._list()

    async def get(self, job_id: str) -> JobDetails | None:
        await self.jobs()
        return self._by_id.get(job_id)

    async def page(self, wanted: JobFilter, offset: int, limit: int) -> tuple[list[JobDetails], int]:
        matching = [job for job in await self.jobs() if wanted.matches(job)]
        return matching[offset:offset + limit], len(matching)
