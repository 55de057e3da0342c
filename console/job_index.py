"""JobIndex: every job of the platform, listed at most once per `max_age` and shared by all pages.

The Platform API lists jobs as one stream without paging, so a page of 50 out of 10,000 jobs is cut
here from one cached list: the pages stay fast whatever the count, and the platform answers one
List per interval however many browsers poll. Only the very first read waits for a listing; later
ones get the list they have while an older-than-`max_age` list is replaced in the background (listing
10,000 jobs takes longer than a page may).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from platform_api.client import PlatformClient
from platform_api.types import JobDetails

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
            listed = await self._platform.list_jobs()
            listed.sort(key=lambda job: job.created or _EPOCH, reverse=True)
            self._jobs, self._by_id = listed, {str(job.job_id): job for job in listed}
            self._listed_at = time.monotonic()
            self._listed_once = True

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

    async def counts_by_state(self) -> Counter[str]:
        return Counter(job.state.name for job in await self.jobs())
