"""`AdapterDatabase`: one aiosqlite connection in WAL mode, with the schema applied on open."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import aiosqlite

from openclara.sqlite import AddedColumn, Schema, open_database

# Columns added after the first release, added on open to databases that lack them (see openclara.sqlite.Schema).
ADDED_COLUMNS = (
    AddedColumn("clara_ae_titles", "job_retry_delay_ms", "INTEGER NOT NULL DEFAULT 5000"),
    AddedColumn("destination_ae_titles", "tls", "TEXT"),
)


class AdapterDatabase:
    """Owns the SQLite connection; repositories borrow `connection`.

    One connection serialises writes, which SQLite does anyway; WAL keeps readers off the writer's back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None

    @property
    def connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("AdapterDatabase.start() has not been called")
        return self._connection

    async def start(self) -> None:
        # synchronous=NORMAL (the default tuning) suffices: the spool (fsync'd) is the source of truth.
        script = resources.files("dicom_adapter.db").joinpath("schema.sql").read_text(encoding="utf-8")
        self._connection = await open_database(self.path, Schema(script, ADDED_COLUMNS))

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
