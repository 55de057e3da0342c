"""`ConfigRepository`: Clara AE titles, source and destination AE titles in SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_adapter.errors import EntityConflict, EntityNotFound
from dicom_adapter.models import ClaraAeTitle, DestinationAeTitle, DestinationTls, JobPriority, SourceAeTitle

if TYPE_CHECKING:
    from dicom_adapter.db.database import AdapterDatabase


class ConfigRepository:
    """CRUD for the three configuration entities; names compare case-insensitively."""

    def __init__(self, database: AdapterDatabase) -> None:
        self._db = database

    # Clara AE titles -------------------------------------------------------------------------------

    async def list_clara_ae_titles(self) -> list[ClaraAeTitle]:
        cursor = await self._db.connection.execute("SELECT * FROM clara_ae_titles ORDER BY name")
        return [_clara_from_row(row) for row in await cursor.fetchall()]

    async def get_clara_ae_title(self, name: str) -> ClaraAeTitle:
        cursor = await self._db.connection.execute("SELECT * FROM clara_ae_titles WHERE name = ?", (name,))
        row = await cursor.fetchone()
        if row is None:
            raise EntityNotFound(f"Clara AE title {name!r} not found")
        return _clara_from_row(row)

    async def save_clara_ae_title(self, entity: ClaraAeTitle, *, replace: bool = False) -> None:
        """Insert (or with `replace`, update the entity of the same name, which must exist)."""
        values = (
            entity.ae_title,
            json.dumps(entity.pipelines),
            entity.group_by,
            entity.timeout_seconds,
            entity.priority.value,
            int(entity.overwrite_same_instance),
            json.dumps(list(entity.ignored_sop_classes)),
            json.dumps(list(entity.allowed_sop_classes)),
            entity.job_retry_delay_ms,
            entity.name,
        )
        if replace:
            sql = (
                "UPDATE clara_ae_titles SET ae_title=?, pipelines=?, group_by=?, timeout_seconds=?, priority=?,"
                " overwrite_same_instance=?, ignored_sop_classes=?, allowed_sop_classes=?, job_retry_delay_ms=?"
                " WHERE name=?"
            )
        else:
            sql = (
                "INSERT INTO clara_ae_titles (ae_title, pipelines, group_by, timeout_seconds, priority,"
                " overwrite_same_instance, ignored_sop_classes, allowed_sop_classes, job_retry_delay_ms, name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
        await self._write(sql, values, _clara_label(entity), replace)

    async def delete_clara_ae_title(self, name: str) -> ClaraAeTitle:
        entity = await self.get_clara_ae_title(name)
        await self._write("DELETE FROM clara_ae_titles WHERE name = ?", (name,), name, False)
        return entity

    # Sources ---------------------------------------------------------------------------------------

    async def list_sources(self) -> list[SourceAeTitle]:
        cursor = await self._db.connection.execute("SELECT * FROM source_ae_titles ORDER BY ae_title")
        return [SourceAeTitle(ae_title=row["ae_title"], host_ip=row["host_ip"]) for row in await cursor.fetchall()]

    async def get_source(self, ae_title: str) -> SourceAeTitle:
        cursor = await self._db.connection.execute("SELECT * FROM source_ae_titles WHERE ae_title = ?", (ae_title,))
        row = await cursor.fetchone()
        if row is None:
            raise EntityNotFound(f"source AE title {ae_title!r} not found")
        return SourceAeTitle(ae_title=row["ae_title"], host_ip=row["host_ip"])

    async def save_source(self, entity: SourceAeTitle, *, replace: bool = False) -> None:
        sql = (
            "UPDATE source_ae_titles SET host_ip=? WHERE ae_title=?"
            if replace
            else "INSERT INTO source_ae_titles (host_ip, ae_title) VALUES (?, ?)"
        )
        await self._write(sql, (entity.host_ip, entity.ae_title), f"source AE title {entity.ae_title!r}", replace)

    async def delete_source(self, ae_title: str) -> SourceAeTitle:
        entity = await self.get_source(ae_title)
        await self._write("DELETE FROM source_ae_titles WHERE ae_title = ?", (ae_title,), ae_title, False)
        return entity

    # Destinations ----------------------------------------------------------------------------------

    async def list_destinations(self) -> list[DestinationAeTitle]:
        cursor = await self._db.connection.execute("SELECT * FROM destination_ae_titles ORDER BY name")
        return [_destination_from_row(row) for row in await cursor.fetchall()]

    async def get_destination(self, name: str) -> DestinationAeTitle:
        cursor = await self._db.connection.execute("SELECT * FROM destination_ae_titles WHERE name = ?", (name,))
        row = await cursor.fetchone()
        if row is None:
            raise EntityNotFound(f"destination {name!r} not found")
        return _destination_from_row(row)

    async def save_destination(self, entity: DestinationAeTitle, *, replace: bool = False) -> None:
        sql = (
            "UPDATE destination_ae_titles SET ae_title=?, host_ip=?, port=?, tls=? WHERE name=?"
            if replace
            else "INSERT INTO destination_ae_titles (ae_title, host_ip, port, tls, name) VALUES (?, ?, ?, ?, ?)"
        )
        values = (entity.ae_title, entity.host_ip, entity.port, _tls_to_json(entity.tls), entity.name)
        await self._write(sql, values, f"destination {entity.name!r}", replace)

    async def delete_destination(self, name: str) -> DestinationAeTitle:
        entity = await self.get_destination(name)
        await self._write("DELETE FROM destination_ae_titles WHERE name = ?", (name,), name, False)
        return entity

    async def _write(self, sql: str, values: tuple[object, ...], what: str, must_exist: bool) -> None:
        connection = self._db.connection
        try:
            cursor = await connection.execute(sql, values)
        except sqlite3.IntegrityError as exc:
            await connection.rollback()
            raise EntityConflict(f"{what} already exists") from exc
        if must_exist and cursor.rowcount == 0:
            await connection.rollback()
            raise EntityNotFound(f"{what} not found")
        await connection.commit()


def _clara_label(entity: ClaraAeTitle) -> str:
    """How a conflict names the entity: its AE title once when the name is the AE title (the CLI's default)."""
    if entity.name.lower() == entity.ae_title.lower():
        return f"Clara AE title {entity.ae_title!r}"
    return f"Clara AE title {entity.name!r} or AE title {entity.ae_title!r}"


def _clara_from_row(row: sqlite3.Row) -> ClaraAeTitle:
    return ClaraAeTitle(
        name=row["name"],
        ae_title=row["ae_title"],
        pipelines=dict(json.loads(row["pipelines"])),
        group_by=row["group_by"],
        timeout_seconds=float(row["timeout_seconds"]),
        priority=JobPriority(row["priority"]),
        overwrite_same_instance=bool(row["overwrite_same_instance"]),
        ignored_sop_classes=tuple(json.loads(row["ignored_sop_classes"])),
        allowed_sop_classes=tuple(json.loads(row["allowed_sop_classes"])),
        job_retry_delay_ms=int(row["job_retry_delay_ms"]),
    )


def _destination_from_row(row: sqlite3.Row) -> DestinationAeTitle:
    return DestinationAeTitle(
        name=row["name"],
        ae_title=row["ae_title"],
        host_ip=row["host_ip"],
        port=row["port"],
        tls=_tls_from_json(row["tls"]),
    )


_TLS_FILES = ("ca_file", "cert_file", "key_file")


def _tls_to_json(tls: DestinationTls | None) -> str | None:
    if tls is None:
        return None
    files = {name: None if getattr(tls, name) is None else str(getattr(tls, name)) for name in _TLS_FILES}
    return json.dumps({"enabled": tls.enabled, **files, "server_name": tls.server_name})


def _tls_from_json(text: str | None) -> DestinationTls | None:
    if text is None:
        return None
    stored = json.loads(text)
    files = {name: None if stored.get(name) is None else Path(stored[name]) for name in _TLS_FILES}
    return DestinationTls(enabled=bool(stored["enabled"]), server_name=stored.get("server_name"), **files)
