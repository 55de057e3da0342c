"""SQL for tasks and payload cleanup records; converts rows to `models` at this edge."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from results_service.db import ResultsDatabase
from results_service.models import FinishedJob, Registration, Task, TaskFilter, TaskState

_ACTIVE = (TaskState.PENDING.value, TaskState.IN_PROGRESS.value)
# Columns a state change may set; guards the f-string in `update_if`.
_SETTABLE = frozenset(
    {"state", "retries", "expiries", "updated", "next_attempt", "lease_id", "lease_expires", "last_error"}
)


@dataclass(frozen=True)
class Expectation:
    """What must still hold when a change is applied (optimistic concurrency)."""

    states: Sequence[TaskState]
    lease_id: str | None = None
    retries: int | None = None
    require_lease: bool = False


def _task(row: sqlite3.Row) -> Task:
    return Task(
        task_id=row["task_id"],
        agent=row["agent"],
        job_id=row["job_id"],
        pipeline_id=row["pipeline_id"],
        payload_id=row["payload_id"],
        parameters=row["parameters"],
        uris=tuple(json.loads(row["uris"])),
        state=TaskState(row["state"]),
        retries=row["retries"],
        created=row["created"],
        updated=row["updated"],
        next_attempt=row["next_attempt"],
        lease_id=row["lease_id"],
        lease_expires=row["lease_expires"],
        last_error=row["last_error"],
        expiries=row["expiries"],
    )


class TaskRepository:
    """Every statement is a single atomic SQLite statement: no read-modify-write races."""

    def __init__(self, db: ResultsDatabase) -> None:
        self._db = db

    async def _fetch(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        return await self._db.point(sql, args)

    async def _scan(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        return await self._db.scan(sql, args)

    async def insert(self, reg: Registration, now: float) -> Task | None:
        """Insert a Pending task; None when the key exists already or cleanup deleted the job's payload.

        One statement for the common case: the cleanup check rides along as `WHERE NOT EXISTS`.
        """
        rows = await self._fetch(
            "INSERT INTO tasks (task_id, agent, job_id, pipeline_id, payload_id, parameters, uris, dedup_key, state,"
            " retries, created, updated, next_attempt) SELECT ?,?,?,?,?,?,?,?,?,0,?,?,?"
            " WHERE NOT EXISTS (SELECT 1 FROM payload_cleanup WHERE job_id = ?)"
            " ON CONFLICT (dedup_key) DO NOTHING RETURNING *",
            (
                str(uuid.uuid4()),
                reg.agent,
                reg.job_id,
                reg.pipeline_id,
                reg.payload_id,
                reg.parameters,
                json.dumps(list(reg.uris)),
                reg.dedup_key,
                TaskState.PENDING.value,
                now,
                now,
                now,
                reg.job_id,
            ),
        )
        return _task(rows[0]) if rows else None

    async def by_dedup_key(self, key: str) -> Task | None:
        rows = await self._fetch("SELECT * FROM tasks WHERE dedup_key = ?", (key,))
        return _task(rows[0]) if rows else None

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    async def get(self, task_id: str) -> Task | None:
        rows = await self._fetch("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        return _task(rows[0]) if rows else None

    async def lease(self, agent: str, size: int, now: float, lease_seconds: float) -> list[Task]:
        """Atomically move up to `size` ready Pending tasks of `agent` to InProgress with a fresh lease."""
        rows = await self._fetch(
            "UPDATE tasks SET state = ?, updated = ?, lease_expires = ?, lease_id = lower(hex(randomblob(8)))"
            " WHERE task_id IN (SELECT task_id FROM tasks WHERE agent = ? AND state = ? AND next_attempt <= ?"
            " ORDER BY next_attempt, created LIMIT ?) RETURNING *",
            (TaskState.IN_PROGRESS.value, now, now + lease_seconds, agent, TaskState.PENDING.value, now, size),
        )
        return sorted((_task(row) for row in rows), key=lambda t: (t.next_attempt, t.created))

    async def update_if(self, task_id: str, expect: Expectation, changes: Mapping[str, object]) -> Task | None:
        """Apply `changes` only if `expect` still holds; None when it does not (or the task is unknown)."""
        unknown = set(changes) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        sets = ", ".join(f"{column} = ?" for column in changes)
        where = [f"state IN ({','.join('?' * len(expect.states))})"]
        args: list[object] = [*changes.values(), task_id, *(s.value for s in expect.states)]
        if expect.lease_id is not None:
            where.append("lease_id = ?")
            args.append(expect.lease_id)
        if expect.retries is not None:
            where.append("retries = ?")
            args.append(expect.retries)
        if expect.require_lease:
            where.append("lease_id IS NOT NULL")
        rows = await self._fetch(
            f"UPDATE tasks SET {sets} WHERE task_id = ? AND {' AND '.join(where)} RETURNING *", args
        )
        return _task(rows[0]) if rows else None

    async def expire_leases(self, now: float, max_expiries: int) -> list[Task]:
        """Every InProgress task whose lease ran out: back to Pending (keeping `lease_id` for late reports),
        or Failed once it has expired `max_expiries` times (0 = never)."""
        # SET expressions all read the row as it was, so `expiries + 1` is the new count everywhere.
        gives_up = "(? > 0 AND expiries + 1 >= ?)"
        rows = await self._scan(
            f"UPDATE tasks SET expiries = expiries + 1, updated = ?, next_attempt = ?, lease_expires = NULL,"
            f" state = CASE WHEN {gives_up} THEN ? ELSE ? END,"
            f" last_error = CASE WHEN {gives_up}"
            "   THEN 'lease expired ' || (expiries + 1) || ' times without a report from the agent; gave up'"
            "   ELSE 'lease expired before the agent reported success or failure' END"
            " WHERE state = ? AND lease_expires <= ? RETURNING *",
            (
                now,
                now,
                max_expiries,
                max_expiries,
                TaskState.FAILED.value,
                TaskState.PENDING.value,
                max_expiries,
                max_expiries,
                TaskState.IN_PROGRESS.value,
                now,
            ),
        )
        return [_task(row) for row in rows]

    async def find(self, criteria: TaskFilter) -> list[Task]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (("agent", criteria.agent), ("job_id", criteria.job_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if criteria.state is not None:
            where.append("state = ?")
            args.append(criteria.state.value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._scan(
            f"SELECT * FROM tasks {clause} ORDER BY created, rowid LIMIT ? OFFSET ?",
            [*args, criteria.limit, criteria.offset],
        )
        return [_task(row) for row in rows]

    async def counts(self) -> list[tuple[str, TaskState, int]]:
        """(agent, state, number of tasks) for every non-empty combination."""
        rows = await self._scan("SELECT agent, state, COUNT(*) AS n FROM tasks GROUP BY agent, state")
        return [(row["agent"], TaskState(row["state"]), row["n"]) for row in rows]

    async def finished_jobs(self, finished_before: float) -> list[FinishedJob]:
        """Jobs with no Pending/InProgress task, last changed before the cut-off, payload not yet cleaned."""
        rows = await self._scan(
            "SELECT job_id, MAX(payload_id) AS payload_id, MAX(updated) AS finished FROM tasks"
            " WHERE job_id NOT IN (SELECT job_id FROM payload_cleanup) GROUP BY job_id"
            " HAVING SUM(state IN (?, ?)) = 0 AND MAX(updated) <= ?",
            (*_ACTIVE, finished_before),
        )
        return [FinishedJob(row["job_id"], row["payload_id"], row["finished"]) for row in rows]

    async def job_is_active(self, job_id: str) -> bool:
        rows = await self._fetch("SELECT 1 FROM tasks WHERE job_id = ? AND state IN (?, ?) LIMIT 1", (job_id, *_ACTIVE))
        return bool(rows)

    async def record_cleanup(self, job: FinishedJob, now: float, outcome: str) -> None:
        await self._fetch(
            "INSERT OR REPLACE INTO payload_cleanup (job_id, payload_id, deleted, outcome) VALUES (?,?,?,?)",
            (job.job_id, job.payload_id, now, outcome),
        )

    async def cleaned(self, job_id: str) -> float | None:
        """When cleanup deleted this job's payload, or None."""
        rows = await self._fetch("SELECT deleted FROM payload_cleanup WHERE job_id = ?", (job_id,))
        return float(rows[0]["deleted"]) if rows else None
