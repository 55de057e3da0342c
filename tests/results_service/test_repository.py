from __future__ import annotations

import asyncio
from pathlib import Path

from results_service.db import ResultsDatabase
from results_service.models import FinishedJob, TaskFilter, TaskState
from results_service.repository import Expectation, TaskRepository
from tests.results_service.conftest import registration


async def test_two_connections_never_lease_the_same_task(tmp_path: Path) -> None:
    """Leasing is one UPDATE ... RETURNING, atomic even across connections (or service processes)."""
    dbs = [ResultsDatabase(tmp_path / "r.db") for _ in range(2)]
    for db in dbs:
        await db.open()
    repos = [TaskRepository(db) for db in dbs]
    try:
        for i in range(300):
            await repos[0].insert(registration(f"j{i}"), 1.0)
        batches = await asyncio.gather(*(repos[i % 2].lease("ClaraSCU", 5, 2.0, 30) for i in range(80)))
        ids = [task.task_id for batch in batches for task in batch]
        assert len(ids) == len(set(ids)) == 300
    finally:
        for db in dbs:
            await db.close()


async def test_update_if_applies_only_when_expectation_holds(repo: TaskRepository) -> None:
    task = await repo.insert(registration(), 1.0)
    assert task is not None
    wrong = Expectation(states=(TaskState.IN_PROGRESS,))
    assert await repo.update_if(task.task_id, wrong, {"state": TaskState.SUCCEEDED.value}) is None
    right = Expectation(states=(TaskState.PENDING,), retries=0)
    changed = await repo.update_if(task.task_id, right, {"state": TaskState.FAILED.value, "last_error": "x"})
    assert changed is not None and changed.state is TaskState.FAILED and changed.last_error == "x"


async def test_insert_is_refused_after_cleanup_and_duplicate_returns_none(repo: TaskRepository) -> None:
    assert await repo.insert(registration(), 1.0) is not None
    assert await repo.insert(registration(), 2.0) is None
    await repo.record_cleanup(FinishedJob("gone", "p", 1.0), 2.0, "deleted")
    assert await repo.insert(registration("gone"), 3.0) is None
    assert await repo.by_dedup_key(registration("gone").dedup_key) is None


async def test_database_reopens_with_data_and_wal(tmp_path: Path) -> None:
    db = ResultsDatabase(tmp_path / "sub" / "r.db")
    await db.open()
    await TaskRepository(db).insert(registration(), 1.0)
    mode = await db.conn.execute_fetchall("PRAGMA journal_mode")
    await db.close()
    assert list(mode)[0][0] == "wal"
    again = ResultsDatabase(tmp_path / "sub" / "r.db")
    await again.open()
    assert len(await TaskRepository(again).find(TaskFilter())) == 1
    await again.close()


async def test_database_adds_columns_missing_from_an_older_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the tasks table as the first release created it
        old.execute(
            "CREATE TABLE tasks (task_id TEXT PRIMARY KEY, agent TEXT NOT NULL, job_id TEXT NOT NULL,"
            " pipeline_id TEXT NOT NULL DEFAULT '', payload_id TEXT NOT NULL DEFAULT '',"
            " parameters TEXT NOT NULL DEFAULT '', uris TEXT NOT NULL, dedup_key TEXT NOT NULL UNIQUE,"
            " state TEXT NOT NULL, retries INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL,"
            " next_attempt REAL NOT NULL, lease_id TEXT, lease_expires REAL, last_error TEXT)"
        )
    db = ResultsDatabase(path)
    await db.open()
    try:
        task = await TaskRepository(db).insert(registration(), 1.0)
        assert task is not None and task.expiries == 0
    finally:
        await db.close()
