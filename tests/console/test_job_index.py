"""JobIndex: one listing shared by every page, renewed with only what can have changed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from console.job_index import JobFilter, JobIndex
from platform_api.errors import NotFound
from platform_api.types import JobDetails, JobId, JobPriority, JobState, JobStatus, PayloadId, PipelineId

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _job(n: int, state: JobState = JobState.STOPPED, pipeline: str = "p1") -> JobDetails:
    return JobDetails(JobId(f"{n:032x}"), PayloadId(f"{n:032x}"), PipelineId(pipeline), f"job-{n}", state,
                      JobStatus.HEALTHY, JobPriority.NORMAL, created=T0 + timedelta(seconds=n))


class Platform:
    """The Platform API's Jobs.List/Status semantics over a dict (what JobIndex asks, counted)."""

    def __init__(self, jobs: list[JobDetails]) -> None:
        self.jobs = {job.job_id: job for job in jobs}
        self.calls: list[str] = []

    async def list_jobs(self, *, states=(), created_after=None) -> list[JobDetails]:
        self.calls.append("list" + (":active" if states else "") + (":new" if created_after else ""))
        return [j for j in self.jobs.values() if (not states or j.state in states)
                and (created_after is None or (j.created and j.created > created_after))]

    async def job_status(self, job_id: str) -> JobDetails:
        self.calls.append(f"status:{job_id[-2:]}")
        if job_id not in self.jobs:
            raise NotFound(5, [f"no job {job_id}"], "Jobs.Status")
        return self.jobs[JobId(job_id)]


async def test_pages_are_cut_from_one_listing_newest_first_and_filtered() -> None:
    platform = Platform([_job(n) for n in range(120)] + [_job(200, JobState.RUNNING, "p2")])
    index = JobIndex(platform, max_age=60)  # type: ignore[arg-type]
    rows, total = await index.page(JobFilter(), offset=0, limit=50)
    assert total == 121 and rows[0].name == "job-200" and rows[1].name == "job-119"
    rows, total = await index.page(JobFilter(state="STOPPED", pipeline="p1"), offset=100, limit=50)
    assert total == 120 and [r.name for r in rows] == [f"job-{n}" for n in range(19, -1, -1)]
    assert platform.calls == ["list"]


async def test_renewal_asks_only_for_active_new_and_just_stopped_jobs() -> None:
    platform = Platform([_job(1), _job(2, JobState.RUNNING), _job(3, JobState.PENDING)])
    index = JobIndex(platform, max_age=0)  # type: ignore[arg-type]
    await index.jobs()
    platform.jobs[JobId(f"{2:032x}")] = replace(platform.jobs[JobId(f"{2:032x}")], state=JobState.STOPPED)
    platform.jobs[JobId(f"{4:032x}")] = _job(4, JobState.PENDING)
    del platform.jobs[JobId(f"{3:032x}")]  # deleted while pending
    platform.calls.clear()
    await index.forget()
    assert platform.calls == ["list:active", "list:new", "status:02", "status:03"]
    states = {job.name: job.state for job in await index.jobs()}
    assert states == {"job-1": JobState.STOPPED, "job-2": JobState.STOPPED, "job-4": JobState.PENDING}


async def test_a_stale_list_is_answered_at_once_and_renewed_in_the_background() -> None:
    platform = Platform([_job(1)])
    index = JobIndex(platform, max_age=0)  # type: ignore[arg-type]
    await index.jobs()
    platform.jobs[JobId(f"{5:032x}")] = _job(5)
    assert [job.name for job in await index.jobs()] == ["job-1"]  # the last list, not a wait
    await asyncio.sleep(0.01)
    assert [job.name for job in await index.jobs()] == ["job-5", "job-1"]


async def test_an_empty_first_listing_is_followed_by_a_full_one() -> None:
    platform = Platform([])
    index = JobIndex(platform, max_age=0)  # type: ignore[arg-type]
    assert await index.jobs() == []
    platform.jobs.update({job.job_id: job for job in (_job(1), _job(2))})  # stopped jobs made elsewhere
    await index.forget()
    assert [job.name for job in await index.jobs()] == ["job-2", "job-1"]
