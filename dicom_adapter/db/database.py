"""`Database`: one aiosqlite connection in WAL mode, with the schema applied on open."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import aiosqlite


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
        await self._connection.commit()

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
