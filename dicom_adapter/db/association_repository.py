"""`AssociationRepository`: the recent association history shown by `GET /api/associations`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dicom_adapter.models import AssociationRecord

if TYPE_CHECKING:
    from dicom_adapter.db.database import AdapterDatabase


class AssociationRepository:
    """Appends records in batches and keeps only the newest `keep` rows."""

    def __init__(self, database: AdapterDatabase, keep: int = 10_000) -> None:
        self._db = database
        self._keep = keep

    async def add(self, records: Sequence[AssociationRecord]) -> None:
        connection = self._db.connection
        await connection.executemany(
            "INSERT OR REPLACE INTO associations (association_id, calling_ae_title, called_ae_title, host, port,"
            " started_at, ended_at, instances, bytes, failures, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.association_id,
                    r.calling_ae_title,
                    r.called_ae_title,
                    r.host,
                    r.port,
                    r.started_at,
                    r.ended_at,
                    r.instances,
                    r.bytes,
                    r.failures,
                    r.outcome,
                )
                for r in records
            ],
        )
        await connection.execute(
            "DELETE FROM associations WHERE association_id NOT IN"
            " (SELECT association_id FROM associations ORDER BY ended_at DESC LIMIT ?)",
            (self._keep,),
        )
        await connection.commit()

    async def recent(self, limit: int = 100) -> list[AssociationRecord]:
        cursor = await self._db.connection.execute(
            "SELECT * FROM associations ORDER BY ended_at DESC LIMIT ?", (limit,)
        )
        return [
            AssociationRecord(
                association_id=row["association_id"],
                calling_ae_title=row["calling_ae_title"],
                called_ae_title=row["called_ae_title"],
                host=row["host"],
                port=int(row["port"]),
                started_at=float(row["started_at"]),
                ended_at=float(row["ended_at"]),
                instances=int(row["instances"]),
                bytes=int(row["bytes"]),
                outcome=row["outcome"],
                failures=int(row["failures"]),
            )
            for row in await cursor.fetchall()
        ]
