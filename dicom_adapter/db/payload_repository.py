"""`PayloadRepository`: received instances, payloads and the job recorded for each pipeline."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_adapter.models import JobPriority, Payload, PayloadJob, PayloadState, StoredInstance
from openclara.sqlite import write_batch

if TYPE_CHECKING:
    from dicom_adapter.db.database import AdapterDatabase


@dataclass(frozen=True)
class IngestBatch:
    """What the assembler decided for a batch of instances; written in one transaction."""

    new_payloads: Sequence[Payload]
    instances: Sequence[tuple[str, StoredInstance]]  # (payload id, instance)
    superseded: Sequence[str]  # spool paths replaced by a re-sent copy (overwrite_same_instance)
    touched: Sequence[tuple[str, float]]  # (payload id, last_received_at wall time)


@dataclass(frozen=True)
class ClosedPayload:
    """A payload ready for submission: its pipelines and priority as they were when it closed."""

    payload: Payload
    pipelines: dict[str, str]
    priority: JobPriority
    closed_at: float


@dataclass(frozen=True)
class IndexedPath:
    """What the database knows about one spool file (restart reconciliation)."""

    state: PayloadState
    superseded: bool


class PayloadRepository:
    """Durable payload state machine rows; every write commits before it returns."""

    def __init__(self, database: AdapterDatabase) -> None:
        self._db = database

    async def apply(self, batch: IngestBatch) -> None:
        """Record one batch in one transaction, in one trip to the database thread (`write_batch`): the
        assembler calls this for every few instances received, on the event loop the SCP shares."""
        await write_batch(
            self._db.connection,
            [
                (
                    "INSERT INTO payloads (payload_id, called_ae_title, group_key, state, created_at,"
                    " last_received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (p.payload_id, p.called_ae_title, p.group_key, p.state.value, p.created_at, p.last_received_at)
                        for p in batch.new_payloads
                    ],
                ),
                (
                    "INSERT OR REPLACE INTO instances (path, payload_id, sop_instance_uid, sop_class_uid,"
                    " study_instance_uid, series_instance_uid, transfer_syntax, calling_ae_title, calling_host,"
                    " association_id, size, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_instance_values(payload_id, i) for payload_id, i in batch.instances],
                ),
                ("UPDATE instances SET superseded = 1 WHERE path = ?", [(path,) for path in batch.superseded]),
                (
                    "UPDATE payloads SET last_received_at = MAX(last_received_at, ?) WHERE payload_id = ?",
                    [(when, payload_id) for payload_id, when in batch.touched],
                ),
            ],
        )

    async def path_index(self) -> dict[str, IndexedPath]:
        cursor = await self._db.connection.execute(
            "SELECT i.path, i.superseded, p.state FROM instances i JOIN payloads p USING (payload_id)"
        )
        return {
            row["path"]: IndexedPath(PayloadState(row["state"]), bool(row["superseded"]))
            for row in await cursor.fetchall()
        }

    async def payloads(self, states: Iterable[PayloadState], limit: int = 10_000) -> list[Payload]:
        wanted = [s.value for s in states]
        marks = ",".join("?" * len(wanted))
        cursor = await self._db.connection.execute(
            f"SELECT p.*, (SELECT COUNT(*) FROM instances i WHERE i.payload_id = p.payload_id AND i.superseded = 0)"
            f" AS instance_count FROM payloads p WHERE state IN ({marks}) ORDER BY created_at DESC LIMIT ?",
            (*wanted, limit),
        )
        return [_payload_from_row(row) for row in await cursor.fetchall()]

    async def get(self, payload_id: str) -> ClosedPayload | None:
        cursor = await self._db.connection.execute(
            "SELECT p.*, (SELECT COUNT(*) FROM instances i WHERE i.payload_id = p.payload_id AND i.superseded = 0)"
            " AS instance_count FROM payloads p WHERE payload_id = ?",
            (payload_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return ClosedPayload(
            payload=_payload_from_row(row),
            pipelines=dict(json.loads(row["pipelines"] or "{}")),
            priority=JobPriority(row["priority"] or JobPriority.NORMAL.value),
            closed_at=float(row["closed_at"] or row["last_received_at"]),
        )

    async def active_instances(self, payload_id: str) -> list[StoredInstance]:
        cursor = await self._db.connection.execute(
            "SELECT i.*, p.called_ae_title FROM instances i JOIN payloads p USING (payload_id)"
            " WHERE payload_id = ? AND superseded = 0 ORDER BY received_at",
            (payload_id,),
        )
        return [_instance_from_row(row) for row in await cursor.fetchall()]

    async def close(self, payload_id: str, pipelines: dict[str, str], priority: JobPriority, now: float) -> None:
        await self._db.connection.execute(
            "UPDATE payloads SET state = ?, pipelines = ?, priority = ?, closed_at = ? WHERE payload_id = ?",
            (PayloadState.CLOSED.value, json.dumps(pipelines), priority.value, now, payload_id),
        )
        await self._db.connection.commit()

    async def faulted(self, called_ae_title: str) -> list[Payload]:
        """Faulted payloads of one called AE title, oldest first."""
        cursor = await self._db.connection.execute(
            "SELECT p.*, (SELECT COUNT(*) FROM instances i WHERE i.payload_id = p.payload_id AND i.superseded = 0)"
            " AS instance_count FROM payloads p WHERE state = ? AND called_ae_title = ? ORDER BY created_at",
            (PayloadState.FAULTED.value, called_ae_title),
        )
        return [_payload_from_row(row) for row in await cursor.fetchall()]

    async def reopen(self, payload_id: str, pipelines: dict[str, str], priority: JobPriority, now: float) -> bool:
        """Faulted -> closed with new pipelines; False when the payload was not faulted (any more).

        Conditional in SQL, so a manual retry racing a configuration re-drive queues the payload once.
        """
        cursor = await self._db.connection.execute(
            "UPDATE payloads SET state = ?, pipelines = ?, priority = ?, closed_at = ? WHERE payload_id = ?"
            " AND state = ?",
            (
                PayloadState.CLOSED.value,
                json.dumps(pipelines),
                priority.value,
                now,
                payload_id,
                PayloadState.FAULTED.value,
            ),
        )
        await self._db.connection.commit()
        return cursor.rowcount == 1

    async def set_state(self, payload_id: str, state: PayloadState, *, error: str | None = None) -> None:
        submitted = ", submitted_at = strftime('%s','now')" if state is PayloadState.SUBMITTED else ""
        await self._db.connection.execute(
            f"UPDATE payloads SET state = ?, error = ?, attempts = attempts + ?{submitted} WHERE payload_id = ?",
            (state.value, error, 1 if error else 0, payload_id),
        )
        await self._db.connection.commit()

    async def jobs(self, payload_id: str) -> dict[str, PayloadJob]:
        cursor = await self._db.connection.execute("SELECT * FROM payload_jobs WHERE payload_id = ?", (payload_id,))
        return {row["pipeline_key"]: _job_from_row(row) for row in await cursor.fetchall()}

    async def save_job(self, job: PayloadJob) -> None:
        await self._db.connection.execute(
            "INSERT OR REPLACE INTO payload_jobs (payload_id, pipeline_key, pipeline_id, job_id, platform_payload_id,"
            " uploaded, started) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                job.payload_id,
                job.pipeline_key,
                job.pipeline_id,
                job.job_id,
                job.platform_payload_id,
                int(job.uploaded),
                int(job.started),
            ),
        )
        await self._db.connection.commit()

    async def all_jobs(self, limit: int = 1000) -> list[PayloadJob]:
        cursor = await self._db.connection.execute("SELECT * FROM payload_jobs ORDER BY rowid DESC LIMIT ?", (limit,))
        return [_job_from_row(row) for row in await cursor.fetchall()]

    async def count_since(self, since: float) -> int:
        """Payloads created at or after `since` (Unix time), whatever their state: one indexed COUNT."""
        cursor = await self._db.connection.execute(
            "SELECT COUNT(*) AS n FROM payloads WHERE created_at >= ?", (since,)
        )
        row = await cursor.fetchone()
        return int(row["n"]) if row is not None else 0

    async def counts_by_state(self) -> dict[PayloadState, int]:
        cursor = await self._db.connection.execute("SELECT state, COUNT(*) AS n FROM payloads GROUP BY state")
        counts = {state: 0 for state in PayloadState}
        for row in await cursor.fetchall():
            counts[PayloadState(row["state"])] = int(row["n"])
        return counts


def _instance_values(payload_id: str, i: StoredInstance) -> tuple[object, ...]:
    return (
        str(i.path),
        payload_id,
        i.sop_instance_uid,
        i.sop_class_uid,
        i.study_instance_uid,
        i.series_instance_uid,
        i.transfer_syntax,
        i.calling_ae_title,
        i.calling_host,
        i.association_id,
        i.size,
        i.received_at,
    )


def _instance_from_row(row: sqlite3.Row) -> StoredInstance:
    return StoredInstance(
        path=Path(row["path"]),
        called_ae_title=row["called_ae_title"],
        calling_ae_title=row["calling_ae_title"],
        calling_host=row["calling_host"],
        association_id=row["association_id"],
        sop_class_uid=row["sop_class_uid"],
        sop_instance_uid=row["sop_instance_uid"],
        study_instance_uid=row["study_instance_uid"],
        series_instance_uid=row["series_instance_uid"],
        transfer_syntax=row["transfer_syntax"],
        size=int(row["size"]),
        received_at=float(row["received_at"]),
    )


def _payload_from_row(row: sqlite3.Row) -> Payload:
    return Payload(
        payload_id=row["payload_id"],
        called_ae_title=row["called_ae_title"],
        group_key=row["group_key"],
        state=PayloadState(row["state"]),
        created_at=float(row["created_at"]),
        last_received_at=float(row["last_received_at"]),
        instance_count=int(row["instance_count"]),
        error=row["error"],
    )


def _job_from_row(row: sqlite3.Row) -> PayloadJob:
    return PayloadJob(
        payload_id=row["payload_id"],
        pipeline_key=row["pipeline_key"],
        pipeline_id=row["pipeline_id"],
        job_id=row["job_id"],
        platform_payload_id=row["platform_payload_id"],
        uploaded=bool(row["uploaded"]),
        started=bool(row["started"]),
    )
