"""The platform's SQLite database (aiosqlite): one connection, WAL, schema created on open.

Records are stored as rows with JSON columns for maps and lists; the repositories in
`pipelines/store.py`, `jobs/store.py`, `payloads/store.py` and `models/repository.py` own the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiosqlite

from openclara.sqlite import Schema, open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    files       TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id      TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL,
    payload_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    created     REAL NOT NULL,
    started     REAL,
    stopped     REAL,
    queued      REAL,
    variables   TEXT NOT NULL DEFAULT '{}',
    metadata    TEXT NOT NULL DEFAULT '{}',
    messages    TEXT NOT NULL DEFAULT '[]',
    operators   TEXT NOT NULL DEFAULT '[]',
    definition  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, queued);
-- Covers the metrics' jobs-by-state-and-priority count at every scrape: no pass over the rows and their JSON.
CREATE INDEX IF NOT EXISTS jobs_by_state_priority ON jobs(state, priority);
CREATE TABLE IF NOT EXISTS payloads (
    payload_id  TEXT PRIMARY KEY,
    type        INTEGER NOT NULL,
    job_id      TEXT,
    sealed      INTEGER NOT NULL DEFAULT 0,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    model_id    TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    type        INTEGER NOT NULL,
    file_name   TEXT NOT NULL,
    size        INTEGER NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created     REAL NOT NULL
);
"""


class PlatformDatabase:
    """Owns the aiosqlite connection; `start()` opens and migrates, `stop()` closes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None

    async def start(self) -> None:
        self._conn = await open_database(self.path, Schema(SCHEMA))

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement and commit; returns the number of rows changed."""
        cursor = await self.conn.execute(sql, tuple(params))
        await self.conn.commit()
        return cursor.rowcount

    async def one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            row: aiosqlite.Row | None = await cursor.fetchone()
            return row

    async def all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())
