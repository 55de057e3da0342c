"""The SQLite record of acknowledged stores that stops a restart from resending."""

from __future__ import annotations

from dicom_adapter.dicom.status import StoreStatus
from dicom_adapter.export.progress import ProgressRepository


async def test_progress_survives_reopening_and_forget_clears_a_task(tmp_path):
    repo = ProgressRepository(tmp_path / "p.db")
    await repo.open()
    await repo.record("t1", "PACS", "a.dcm", "1.2.3", 0)
    await repo.record("t1", "OTHER", "b.dcm", "1.2.4", StoreStatus.COERCION_OF_DATA_ELEMENTS)
    await repo.record("t2", "PACS", "c.dcm", "1.2.5", 0)
    await repo.close()

    reopened = ProgressRepository(tmp_path / "p.db")
    await reopened.open()
    assert await reopened.delivered("t1", "pacs") == {"a.dcm"}
    assert await reopened.delivered("t1", "other") == {"b.dcm"}
    await reopened.forget("t1")
    assert await reopened.delivered("t1", "PACS") == set()
    assert await reopened.tasks() == ["t2"]
    await reopened.close()


async def test_prune_drops_only_old_rows(tmp_path, monkeypatch):
    repo = ProgressRepository(tmp_path / "p.db")
    await repo.open()
    await repo.record("old", "PACS", "a.dcm", "1", 0)
    monkeypatch.setattr("dicom_adapter.export.progress.time.time", lambda: 10_000_000_000.0)
    await repo.record("new", "PACS", "b.dcm", "2", 0)
    assert await repo.prune(3600) == 1
    assert await repo.tasks() == ["new"]
    await repo.close()
