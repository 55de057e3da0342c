"""`Database`: one aiosqlite connection in WAL mode, with the schema applied on open."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import aiosqlite

# Columns added after the first release: (table, column, definition). `CREATE TABLE IF NOT EXISTS` leaves an
# existing database's tables as they are, so these are added on open when missing (SQLite has no
# `ADD COLUMN IF NOT EXISTS`).
ADDED_COLUMNS = (
    ("clara_ae_titles", "job_retry_delay_ms", "INTEGER NOT NULL DEFAULT 5000"),
    ("destination_ae_titles", "tls", "TEXT"),
)


class Database:
    """Owns the SQLite connection; repositories borrow `connection`.

    One connection serialises writes, which SQLite does anyway; WAL keeps readers off the writer's back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None

    @property
    def connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("Database.start() has not been called")
        return self._connection

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = await aiosqlite.connect(self.path)
        self._connection.row_factory = aiosqlite.Row
        await self._connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe for a killed process under WAL; the spool (fsync'd) is the source of truth.
        await self._connection.execute("PRAGMA synchronous=NORMAL")
        schema = resources.files("dicom_adapter.db").joinpath("schema.sql").read_text(encoding="utf-8")
        await self._connection.executescript(schema)
        await self._add_missing_columns()
        await self._connection.commit()

    async def _add_missing_columns(self) -> None:
        for table, column, definition in ADDED_COLUMNS:
            cursor = await self.connection.execute(f"PRAGMA table_info({table})")
            if column not in {row["name"] for row in await cursor.fetchall()}:
                await self.connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
