from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from dicom_adapter.db import AdapterDatabase, ConfigRepository, PayloadRepository
from dicom_adapter.models import JobPriority, PayloadState
from tests.dicom_adapter.fakes import clara_ae

# clara_ae_titles as the first release created it (before jobRetryDelay was stored).
OLD_TABLE = """
CREATE TABLE clara_ae_titles (
    name TEXT PRIMARY KEY COLLATE NOCASE, ae_title TEXT NOT NULL UNIQUE, pipelines TEXT NOT NULL,
    group_by TEXT NOT NULL, timeout_seconds REAL NOT NULL, priority TEXT NOT NULL,
    overwrite_same_instance INTEGER NOT NULL, ignored_sop_classes TEXT NOT NULL, allowed_sop_classes TEXT NOT NULL
);
INSERT INTO clara_ae_titles VALUES ('CLARA', 'CLARA', '{"seg": "p1"}', '0020,000D', 5, 'normal', 0, '[]', '[]');
"""


async def test_job_retry_delay_is_stored_and_read_back(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    try:
        repository = ConfigRepository(db)
        await repository.save_clara_ae_title(replace(clara_ae(), job_retry_delay_ms=1234))
        assert (await repository.get_clara_ae_title("clara")).job_retry_delay_ms == 1234
        await repository.save_clara_ae_title(replace(clara_ae(), job_retry_delay_ms=0), replace=True)
        assert (await repository.list_clara_ae_titles())[0].job_retry_delay_ms == 0
    finally:
        await db.stop()


async def test_database_of_the_first_release_gains_the_column_with_clara_s_default(tmp_path: Path):
    path = tmp_path / "adapter.db"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_TABLE)
    for _ in range(2):  # opening twice must not try to add it again
        db = AdapterDatabase(path)
        await db.start()
        try:
            (ae,) = await ConfigRepository(db).list_clara_ae_titles()
            assert ae.ae_title == "CLARA" and ae.job_retry_delay_ms == 5000
        finally:
            await db.stop()


async def test_reopen_only_changes_a_faulted_payload(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    try:
        repository = PayloadRepository(db)
        for pid, state in (("f", PayloadState.FAULTED), ("d", PayloadState.DONE)):
            await db.connection.execute(
                "INSERT INTO payloads (payload_id, called_ae_title, group_key, state, created_at, last_received_at)"
                " VALUES (?, 'CLARA', 'k', ?, 1, 1)",
                (pid, state.value),
            )
        await db.connection.commit()
        assert [p.payload_id for p in await repository.faulted("CLARA")] == ["f"]
        assert await repository.faulted("OTHER") == []
        assert await repository.reopen("f", {"seg": "p2"}, JobPriority.HIGHER, 5.0)
        assert not await repository.reopen("f", {"seg": "p3"}, JobPriority.HIGHER, 6.0)
        assert not await repository.reopen("d", {"seg": "p3"}, JobPriority.HIGHER, 6.0)
        closed = await repository.get("f")
        assert closed is not None and closed.payload.state is PayloadState.CLOSED
        assert closed.pipelines == {"seg": "p2"} and closed.priority is JobPriority.HIGHER and closed.closed_at == 5.0
    finally:
        await db.stop()
