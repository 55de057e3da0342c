from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicom_adapter.db import AdapterDatabase, PayloadRepository
from dicom_adapter.models import PayloadState, StoredInstance
from dicom_adapter.payloads.assembler import PayloadAssembler
from dicom_adapter.storage.reconciliation import Reconciliation
from tests.dicom_adapter.fakes import FakeClock, FakeRegistry, FakeSpool, clara_ae, make_instance


class ScannedSpool(FakeSpool):
    """The files a restart finds; `scan` asks for the group tag of each called AE title like the real one."""

    def __init__(self, files: list[StoredInstance]) -> None:
        super().__init__()
        self.files = files
        self.asked: list[str] = []

    def scan(self, group_by: Callable[[str], str | None] | None = None) -> Iterator[StoredInstance]:
        for instance in self.files:
            if group_by is not None:
                self.asked.append(instance.called_ae_title)
                group_by(instance.called_ae_title)
            yield instance


@pytest.fixture
async def repository(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield PayloadRepository(db)
    await db.stop()


async def test_reconciliation_reindexes_orphans_removes_finished_files_and_requeues_pending(repository, tmp_path):
    clock, registry = FakeClock(), FakeRegistry({"CLARA": clara_ae(timeout=5)})
    closed: list[str] = []
    assembler = PayloadAssembler(repository, registry, FakeSpool(), closed.append, clock=clock, minimum_timeout=0.5)
    done, pending, orphan = (make_instance(tmp_path, sop, study=sop) for sop in ("1", "2", "3"))
    await assembler.ingest([done, pending])
    clock.advance(10)
    await assembler.close_due()
    payloads = {p.group_key: p.payload_id for p in await repository.payloads([PayloadState.CLOSED])}
    await repository.set_state(payloads["1"], PayloadState.DONE)
    spool = ScannedSpool([done, pending, orphan])
    submitted: list[str] = []
    restarted = PayloadAssembler(repository, registry, FakeSpool(), closed.append, clock=clock, minimum_timeout=0.5)

    await Reconciliation(spool, repository, restarted, submitted.append, lambda ae: None).run()

    assert spool.removed == [done.path]  # its payload is done: the file is no longer needed
    assert submitted == [payloads["2"]]  # closed before the restart: submitted again
    assert restarted.open_payloads == 1  # the orphan, re-indexed into a new receiving payload
    assert spool.asked == ["CLARA"] * 3


async def test_reconciliation_reopens_receiving_payloads(repository, tmp_path):
    clock, registry = FakeClock(), FakeRegistry({"CLARA": clara_ae(timeout=5)})
    first = PayloadAssembler(repository, registry, FakeSpool(), lambda _: None, clock=clock, minimum_timeout=0.5)
    instance = make_instance(tmp_path, "1")
    await first.ingest([instance])
    restarted = PayloadAssembler(repository, registry, FakeSpool(), lambda _: None, clock=clock, minimum_timeout=0.5)
    submitted: list[str] = []

    await Reconciliation(ScannedSpool([instance]), repository, restarted, submitted.append, lambda ae: None).run()

    assert restarted.open_payloads == 1 and submitted == []
