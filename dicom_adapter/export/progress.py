"""Persisted per-task, per-destination, per-file export progress (SQLite via aiosqlite).

A file is recorded the moment its destination acknowledges it, before the next one goes out; after a
crash or kill -9 the agent re-leases the task and skips every recorded file, so nothing acknowledged is
sent twice. WAL with synchronous=NORMAL: a committed row survives a process crash (not a power cut).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite

from openclara.sqlite import Schema, open_database

if TYPE_CHECKING:
    from dicom_adapter.export.settings import ExportSettings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    task_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    uri TEXT NOT NULL,
    sop_instance_uid TEXT NOT NULL,
    status INTEGER NOT NULL,
    delivered_at REAL NOT NULL,
    PRIMARY KEY (task_id, destination, uri)
);
"""


class ProgressRepository:
    """Which files of which task each destination has already acknowledged."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None

    @classmethod
    def from_settings(cls, settings: ExportSettings) -> ProgressRepository:
        return cls(settings.resolved_state_dir() / "progress.db")

    async def open(self) -> None:
        # Autocommit: each record is one statement and one thread hop, committed when it returns.
        self._db = await open_database(self._path, Schema(_SCHEMA), autocommit=True)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("ProgressRepository.open() was not called")
        return self._db

    async def delivered(self, task_id: str, destination: str) -> set[str]:
        """URIs of `task_id` that `destination` has acknowledged."""
        async with self._conn.execute(
            "SELECT uri FROM delivered WHERE task_id = ? AND destination = ?", (task_id, destination.lower())
        ) as cursor:
            return {str(row[0]) async for row in cursor}

    async def record(self, task_id: str, destination: str, uri: str, sop_instance_uid: str, status: int) -> None:
        """Persist one acknowledgement (committed before returning)."""
        await self._conn.execute(
            "INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, destination.lower(), uri, sop_instance_uid, status, time.time()),
        )

    async def forget(self, task_id: str) -> None:
        """Drop a task's rows once the results service knows its outcome."""
        await self._conn.execute("DELETE FROM delivered WHERE task_id = ?", (task_id,))

    async def prune(self, older_than_seconds: float) -> int:
        """Drop rows of tasks abandoned long ago (redriven elsewhere, or never re-leased); returns the count."""
        cursor = await self._conn.execute(
            "DELETE FROM delivered WHERE delivered_at < ?", (time.time() - older_than_seconds,)
        )
        return int(cursor.rowcount)

    async def tasks(self) -> list[str]:
        async with self._conn.execute("SELECT DISTINCT task_id FROM delivered ORDER BY task_id") as cursor:
            return [str(row[0]) async for row in cursor]
