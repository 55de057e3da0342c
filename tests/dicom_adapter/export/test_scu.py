"""The asyncio C-STORE SCU against a real in-process Storage SCP."""

from __future__ import annotations

import pytest
from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless

from dicom_adapter.export.contexts import SendMode, plan_send, propose_contexts
from dicom_adapter.export.errors import DestinationUnavailableError
from dicom_adapter.export.part10 import read_part10
from dicom_adapter.export.scu import Peer, StoreAssociation, Timeouts
from dicom_adapter.export.transcode import transcode
from tests.conftest import free_port
from tests.dicom_adapter.export.peer import storage_scp
from tests.support.instances import make_series


async def test_scu_stores_raw_and_transcoded_files_to_a_pynetdicom_scp(tmp_path):
    files = make_series(tmp_path / "a", 3) + make_series(tmp_path / "b", 2, transfer_syntax=JPEG2000Lossless)
    parts = [read_part10(p) for p in files]
    with storage_scp(syntaxes=[ImplicitVRLittleEndian]) as (port, received):
        contexts = propose_contexts(parts)
        association = await StoreAssociation.open(Peer("127.0.0.1", port, "PACS", "ClaraSCU"), contexts, 0, Timeouts())
        modes = []
        for part in parts:
            plan = plan_send(part, contexts, association.accept.contexts)
            assert plan is not None
            modes.append(plan.mode)
            data = part.dataset_bytes() if plan.mode is SendMode.RAW else transcode(part, plan.transfer_syntax)
            assert await association.store(plan.context_id, part.sop_class_uid, part.sop_instance_uid, data) == 0
        await association.release()
    assert modes == [SendMode.TRANSCODE] * 5  # the peer takes only Implicit VR LE
    assert received.instances == [(p.sop_instance_uid, ImplicitVRLittleEndian) for p in parts]
    assert received.calling_ae_titles == ["ClaraSCU"]


async def test_scu_reports_a_refused_connection_clearly():
    peer = Peer("127.0.0.1", free_port(), "PACS", "ClaraSCU")
    with pytest.raises(DestinationUnavailableError, match="cannot connect to 127.0.0.1"):
        await StoreAssociation.open(peer, propose_contexts([]), 0, Timeouts(connect=2))


async def test_scu_reports_a_rejected_association_with_the_reason(tmp_path):
    parts = [read_part10(p) for p in make_series(tmp_path, 1)]
    with storage_scp(ae_title="PACS") as (port, _):
        with pytest.raises(DestinationUnavailableError, match="WRONG: association rejected.*called AE title"):
            await StoreAssociation.open(
                Peer("127.0.0.1", port, "WRONG", "ClaraSCU"), propose_contexts(parts), 0, Timeouts()
            )
