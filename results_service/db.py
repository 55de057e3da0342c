"""The SQLite database: WAL mode, autocommit statements, schema creation, and where each statement runs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import aiosqlite
import structlog

from openclara.sqlite import AddedColumn, Schema, Tuning, open_database, open_inline
from results_service.errors import StoreUnavailable

log = structlog.get_logger()

# SQLite's automatic checkpoint runs inside whichever commit crosses 1000 WAL pages and fsyncs the
# database file there: on the loop thread that stalled every request for milliseconds (the p99). It is
# switched off on both connections and this often run on aiosqlite's thread instead.
CHECKPOINT_INTERVAL_SECONDS = 1.0
# Columns added after the first release, added on open to databases that lack them.
ADDED_COLUMNS = (AddedColumn("tasks", "expiries", "INTEGER NOT NULL DEFAULT 0"),)


class ResultsDatabase:
    """Two connections to one WAL database; every statement commits on its own.

    * `point()` runs short indexed statements (register, lease, success, failure, lookups) directly on
      the event-loop thread: they take tens of microseconds, while a hop to aiosqlite's worker thread
      and back cost about 0.25 ms of CPU each on the benchmark machine (~40 % of a full cycle).
    * `scan()` runs statements whose cost grows with the table (listing, counts, the cleanup query) on
      aiosqlite's thread, so they never block the loop.
    * `checkpoint()` copies the WAL back into the database file on aiosqlite's thread (see
      CHECKPOINT_INTERVAL_SECONDS); a commit is durable once it is in the WAL, so this changes no guarantee.

    Each state change is a single conditional `UPDATE ... RETURNING`, atomic across connections, so two
    pollers can never lease the same task whichever connection they use.
    """

    def __init__(self, path: Path, synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        self.path = path
        # busy_timeout: a write on the other connection holds the lock for at most a few milliseconds.
        self._tuning = Tuning(synchronous=synchronous, autocheckpoint=False)
        self._conn: aiosqlite.Connection | None = None
        self._point: sqlite3.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreUnavailable("the task database is not open")
        return self._conn

    async def open(self) -> None:
        try:
            # Reading the schema file is on a worker thread, like every wait of unbounded length (the rule in the
            # results_service docstring); the inline connection is made where it is used, on the loop thread.
            script = await asyncio.to_thread(resources.files("results_service").joinpath("schema.sql").read_text)
            conn = await open_database(self.path, Schema(script, ADDED_COLUMNS), self._tuning, autocommit=True)
            # Every hot statement is a fixed string: keep them all prepared.
            point = open_inline(self.path, self._tuning, cached_statements=256)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open task database {self.path}: {exc}") from exc
        self._conn, self._point = conn, point
        log.info("db.opened", path=str(self.path))

    async def point(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        """A short indexed statement, run inline on the loop thread."""
        if self._point is None:
            raise StoreUnavailable("the task database is not open")
        try:
            return self._point.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"task database error: {exc}") from exc

    async def scan(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        """A statement that may read many rows, run on aiosqlite's worker thread."""
        try:
            return list(await self.conn.execute_fetchall(sql, tuple(args)))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"task database error: {exc}") from exc

    async def checkpoint(self) -> None:
        """Move committed WAL pages into the database file without blocking writers (PASSIVE)."""
        await self.scan("PRAGMA wal_checkpoint(PASSIVE)")

    async def close(self) -> None:
        if self._point is not None:
            self._point.close()
            self._point = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            log.info("db.closed", path=str(self.path))

