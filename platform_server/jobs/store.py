"""JobRepository: every job's state, status, operators, messages and timestamps in SQLite.

States follow the contract exactly: a created job is PENDING and not queued; Start sets `queued`;
the runner moves it to RUNNING and finally STOPPED with HEALTHY, FAULTED or CANCELED.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import aiosqlite

from platform_server.db import PlatformDatabase
from platform_server.domain import Job, JobPriority, JobState, JobStatus, OperatorDetail, OperatorStatus
from platform_server.errors import NotFound


@dataclass(frozen=True)
class JobFilter:
    """Clara's JobFilter; empty fields match everything (Clara listed only running jobs; we list all)."""

    states: Sequence[JobState] = ()
    statuses: Sequence[JobStatus] = ()
    pipeline_ids: Sequence[str] = ()
    created_after: float | None = None
    completed_before: float | None = None

    def matches(self, job: Job) -> bool:
        if self.states and job.state not in self.states:
            return False
        if self.statuses and job.status not in self.statuses:
            return False
        if self.pipeline_ids and job.pipeline_id not in self.pipeline_ids:
            return False
        if self.created_after is not None and job.created <= self.created_after:
            return False
        stopped = job.stopped
        return self.completed_before is None or (stopped is not None and stopped < self.completed_before)


class JobRepository:
    def __init__(self, db: PlatformDatabase) -> None:
        self._db = db

    async def add(self, job: Job) -> None:
        await self._db.write(
            "INSERT INTO jobs (job_id, pipeline_id, payload_id, name, priority, state, status, created, "
            "started, stopped, queued, variables, messages, operators, metadata, definition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job.job_id, job.pipeline_id, job.payload_id, job.name, *self._mutable(job), json.dumps(job.definition)),
        )

    async def save(self, job: Job) -> None:
        """Persist the run-time fields; metadata has its own writer so a running job cannot overwrite it."""
        await self._db.write(
            "UPDATE jobs SET priority = ?, state = ?, status = ?, created = ?, started = ?, stopped = ?, "
            "queued = ?, variables = ?, messages = ?, operators = ? WHERE job_id = ?",
            (*self._mutable(job)[:-1], job.job_id),
        )

    async def set_metadata(self, job_id: str, metadata: dict[str, str]) -> None:
        await self._db.write("UPDATE jobs SET metadata = ? WHERE job_id = ?", (json.dumps(metadata), job_id))

    @staticmethod
    def _mutable(job: Job) -> tuple[object, ...]:
        return (
            int(job.priority), int(job.state), int(job.status), job.created, job.started, job.stopped, job.queued,
            json.dumps(job.variables), json.dumps(job.messages), json.dumps([asdict(op) for op in job.operators]),
            json.dumps(job.metadata),
        )

    async def get(self, job_id: str) -> Job:
        row = await self._db.one("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        if row is None:
            raise NotFound(f"job {job_id} does not exist")
        return _job(row)

    async def list(self, where: JobFilter | None = None) -> builtins.list[Job]:
        jobs = [_job(r) for r in await self._db.all("SELECT * FROM jobs ORDER BY created")]
        return [j for j in jobs if where is None or where.matches(j)]

    async def counts(self) -> dict[tuple[JobState, JobPriority], int]:
        """Jobs per (state, priority): what the metrics read at every scrape (one GROUP BY over the table)."""
        rows = await self._db.all("SELECT state, priority, COUNT(*) AS n FROM jobs GROUP BY state, priority")
        return {(JobState(r["state"]), JobPriority(r["priority"])): r["n"] for r in rows}

    async def in_state(self, state: JobState) -> builtins.list[Job]:
        rows = await self._db.all("SELECT * FROM jobs WHERE state = ? ORDER BY queued, created", (int(state),))
        return [_job(r) for r in rows]


def _operator(data: dict[str, object]) -> OperatorDetail:
    detail = OperatorDetail(**data)  # type: ignore[arg-type]
    detail.status = OperatorStatus(detail.status)
    return detail


def _job(row: aiosqlite.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        pipeline_id=row["pipeline_id"],
        payload_id=row["payload_id"],
        name=row["name"],
        priority=JobPriority(row["priority"]),
        state=JobState(row["state"]),
        status=JobStatus(row["status"]),
        created=row["created"],
        started=row["started"],
        stopped=row["stopped"],
        queued=row["queued"],
        variables=json.loads(row["variables"]),
        metadata=json.loads(row["metadata"]),
        messages=json.loads(row["messages"]),
        operators=[_operator(o) for o in json.loads(row["operators"])],
        definition=[(p, c) for p, c in json.loads(row["definition"])],
    )
