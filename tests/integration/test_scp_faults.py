"""The asyncio SCP under bad input and failure: every case ends in a clear status or an A-ABORT,
nothing unacknowledged is left in the spool, and the SCP keeps serving."""

from __future__ import annotations

import asyncio
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import require_peer
from tests.dicom_adapter.scp import rawclient as raw
from tests.dicom_adapter.scp.datasets import dataset_bytes, encode, make_ct, write_ct
from tests.dicom_adapter.scp.fakes import CALLED, running_scp
from tests.dicom_adapter.scp.rawclient import release, store

pytestmark = pytest.mark.integration


def spooled(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm"))


def partials(root: Path) -> list[Path]:
    """Files of `.incoming/` holding data (the empty ones are spares, kept for the next instances)."""
    return sorted(p for p in (root / ".incoming").iterdir() if p.stat().st_size)


async def test_missing_uids_fail_the_instance_and_the_association_goes_on(tmp_path):
    no_study = make_ct()
    del no_study.StudyInstanceUID
    good = make_ct()
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        bad_status = await store(reader, writer, 1, encode(no_study), no_study.SOPInstanceUID)
        good_status = await store(reader, writer, 2, encode(good), good.SOPInstanceUID)
        await release(reader, writer)
        (record,) = await scp.sink.wait_records(1)
    assert bad_status == 0xA900  # Error: Data Set does not match SOP Class
    assert good_status == 0x0000
    assert [i.sop_instance_uid for i in scp.sink.instances] == [good.SOPInstanceUID]
    assert [p.stem for p in spooled(tmp_path / "spool")] == [good.SOPInstanceUID]
    assert record.failures == 1 and record.instances == 1 and record.outcome == "released"
    assert partials(tmp_path / "spool") == []


async def test_undecodable_data_set_gets_cannot_understand(tmp_path):
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        status = await store(reader, writer, 1, b"\x08\x00\x18\x00UI\xff\x7fgarbage", "1.2.3.4")
        await release(reader, writer)
    assert 0xC000 <= status <= 0xCFFF
    assert spooled(tmp_path / "spool") == []


async def test_abort_mid_transfer_leaves_no_partial_file_and_the_scp_keeps_serving(tmp_path):
    data = encode(make_ct(size=256))
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        writer.write(raw.p_data(1, raw.c_store_rq(1, raw.CT_IMAGE_STORAGE, "1.2.3"), command=True, last=True))
        writer.write(raw.p_data(1, data[:60000], command=False, last=False))
        writer.write(bytes((7, 0, 0, 0, 0, 4, 0, 0, 0, 0)))  # A-ABORT
        await writer.drain()
        (record,) = await scp.sink.wait_records(1)
        writer.close()
        reader, writer = await raw.associate(scp.port)
        ct = make_ct()
        status = await store(reader, writer, 1, encode(ct), ct.SOPInstanceUID)
        await release(reader, writer)
    assert record.outcome == "aborted"
    assert status == 0
    assert [p.stem for p in spooled(tmp_path / "spool")] == [ct.SOPInstanceUID]
    assert partials(tmp_path / "spool") == []


async def test_connection_lost_mid_transfer_leaves_no_partial_file(tmp_path):
    data = encode(make_ct(size=256))
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        writer.write(raw.p_data(1, raw.c_store_rq(1, raw.CT_IMAGE_STORAGE, "1.2.3"), command=True, last=True))
        writer.write(raw.p_data(1, data[:60000], command=False, last=False))
        await writer.drain()
        writer.transport.abort()
        (record,) = await scp.sink.wait_records(1)
    assert record.outcome == "aborted: connection lost"
    assert spooled(tmp_path / "spool") == [] and partials(tmp_path / "spool") == []


async def test_garbage_gets_an_a_abort_and_the_scp_keeps_serving(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.connect(scp.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        pdu_type, body = await raw.read_pdu(reader)
        (record,) = await scp.sink.wait_records(1)
        process = await asyncio.create_subprocess_exec(
            echoscu, "-aec", CALLED, "-aet", "ECHOSCU", "127.0.0.1", str(scp.port)
        )
        assert await process.wait() == 0
    assert pdu_type == 7 and body[3] == 1  # A-ABORT, reason: unrecognized PDU
    assert record.outcome.startswith("error: unrecognized PDU type 0x47")


async def test_malformed_pdv_length_aborts(tmp_path):
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        writer.write(bytes((4, 0, 0, 0, 0, 6)) + (100).to_bytes(4, "big") + b"\x01\x03")  # PDV overruns its PDU
        pdu_type, body = await raw.read_pdu(reader)
        (record,) = await scp.sink.wait_records(1)
    assert pdu_type == 7 and body[3] == 6  # invalid PDU parameter value
    assert record.outcome == "error: PDV length 100 invalid"


async def test_pdv_on_an_unaccepted_context_aborts(tmp_path):
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        writer.write(raw.p_data(9, raw.c_echo_rq(1), command=True, last=True))
        pdu_type, _ = await raw.read_pdu(reader)
    assert pdu_type == 7


async def test_silent_peer_is_dropped_after_the_artim_timeout(tmp_path):
    async with running_scp(tmp_path / "spool", scp={"acse_timeout": 0.3}) as scp:
        reader, writer = await raw.connect(scp.port)
        async with asyncio.timeout(10):
            rest = await reader.read()  # an A-ABORT, then EOF
        (record,) = await scp.sink.wait_records(1)
    assert rest[:1] == b"\x07"
    assert record.outcome == "error: timeout"


async def test_idle_association_is_aborted_after_the_network_timeout(tmp_path):
    async with running_scp(tmp_path / "spool", scp={"network_timeout": 0.3}) as scp:
        reader, writer = await raw.associate(scp.port)
        async with asyncio.timeout(10):
            rest = await reader.read()
    assert rest[:1] == b"\x07"


async def test_association_limit_rejects_transiently(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool", scp={"maximum_associations": 1}) as scp:
        reader, writer = await raw.associate(scp.port)
        process = await asyncio.create_subprocess_exec(
            echoscu,
            "-aec",
            CALLED,
            "-aet",
            "ECHOSCU",
            "127.0.0.1",
            str(scp.port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await process.communicate())[0].decode()
        await release(reader, writer)
    assert process.returncode != 0
    assert "Rejected Transient" in output and "Local Limit Exceeded" in output


async def test_watermark_reached_mid_association_refuses_with_out_of_resources(tmp_path):
    ct = make_ct()
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        scp.scp.disk.has_room = lambda incoming=0: False  # type: ignore[method-assign]
        status = await store(reader, writer, 1, encode(ct), ct.SOPInstanceUID)
        await release(reader, writer)
    assert status == 0xA700
    assert spooled(tmp_path / "spool") == [] and scp.sink.instances == []


async def test_ignored_sop_class_is_acknowledged_but_not_stored(tmp_path):
    ct = make_ct()
    async with running_scp(tmp_path / "spool") as scp:
        ae = scp.registry.ae_titles[CALLED]
        scp.registry.ae_titles[CALLED] = replace(ae, ignored_sop_classes=(raw.CT_IMAGE_STORAGE,))
        reader, writer = await raw.associate(scp.port)
        status = await store(reader, writer, 1, encode(ct), ct.SOPInstanceUID)
        await release(reader, writer)
        (record,) = await scp.sink.wait_records(1)
    assert status == 0
    assert spooled(tmp_path / "spool") == [] and record.ignored == 1 and record.instances == 0


async def test_custom_group_tag_is_reported_in_extra_tags(tmp_path):
    ct = make_ct()
    async with running_scp(tmp_path / "spool") as scp:
        ae = scp.registry.ae_titles[CALLED]
        scp.registry.ae_titles[CALLED] = replace(ae, group_by="0008,0050")
        reader, writer = await raw.associate(scp.port)
        await store(reader, writer, 1, encode(ct), ct.SOPInstanceUID)
        await release(reader, writer)
    assert scp.sink.instances[0].extra_tags == {"0008,0050": "ACC1"}


async def test_stop_aborts_associations_that_do_not_finish(tmp_path):
    async with running_scp(tmp_path / "spool", scp={"stop_timeout": 0.2}) as scp:
        reader, writer = await raw.associate(scp.port)
        await scp.scp.stop()
        (record,) = await scp.sink.wait_records(1)
        rest = await reader.read()
    assert record.outcome == "aborted: server stopping"
    assert rest[:1] == b"\x07"


async def test_large_instance_streams_with_bounded_memory(tmp_path):
    """A 200 MB instance via storescu: Python allocations in the SCP stay a few MB (tracemalloc peak)."""
    size = 10240  # 10240 x 10240 x 2 bytes = 200 MiB of pixel data
    source = write_ct(tmp_path / "big.dcm", make_ct(size=size))
    storescu = require_peer("storescu")
    async with running_scp(tmp_path / "spool") as scp:
        tracemalloc.start()
        try:
            process = await asyncio.create_subprocess_exec(
                storescu,
                "-aec",
                CALLED,
                "-aet",
                "STORESCU",
                "127.0.0.1",
                str(scp.port),
                str(source),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert await process.wait() == 0
            await scp.sink.wait_records(1)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    (instance,) = scp.sink.instances
    assert dataset_bytes(instance.path) == dataset_bytes(source)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
