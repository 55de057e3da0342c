"""StoreScp lifecycle on a real loopback socket (port 0); protocol behaviour lives in tests/integration."""

from __future__ import annotations

import asyncio

import pytest

from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.scp.server import StoreScp
from dicom_adapter.storage.settings import StorageSettings
from dicom_adapter.storage.spool import Spool
from tests.dicom_adapter.scp import rawclient as raw
from tests.dicom_adapter.scp.fakes import FakeRegistry, FakeSink, running_scp


async def test_bound_port_and_active_associations(tmp_path):
    async with running_scp(tmp_path / "spool") as scp:
        assert scp.port > 0
        assert scp.scp.active_associations == 0
        reader, writer = await raw.associate(scp.port)
        assert scp.scp.active_associations == 1
        writer.write(bytes((5, 0, 0, 0, 0, 4, 0, 0, 0, 0)))
        assert (await raw.read_pdu(reader))[0] == 6
        writer.close()
        await scp.sink.wait_records(1)
        async with asyncio.timeout(5):
            while scp.scp.active_associations:
                await asyncio.sleep(0.01)


async def test_start_removes_partial_files_and_stop_refuses_new_connections(tmp_path):
    spool = tmp_path / "spool"
    (spool / ".incoming").mkdir(parents=True)
    (spool / ".incoming" / "crash.part").write_bytes(b"half")
    storage = StorageSettings(spool_dir=spool, reserve_space_gb=0)
    scp = StoreScp(ScpSettings(port=0), storage, Spool.from_settings(storage), FakeRegistry(), FakeSink())
    await scp.start()
    port = scp.bound_port
    left = list((spool / ".incoming").iterdir())
    assert spool / ".incoming" / "crash.part" not in left
    assert len(left) == 2048 and all(p.stat().st_size == 0 for p in left)  # the default pool of spares
    await scp.stop()
    assert len(list((spool / ".incoming").iterdir())) == 2048  # spares stay for the next start
    with pytest.raises(OSError):
        await raw.connect(port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = scp.bound_port


async def test_a_failing_sink_does_not_fail_the_store(tmp_path):
    class BrokenSink(FakeSink):
        def instance_stored(self, instance):
            raise RuntimeError("queue full")

    from tests.dicom_adapter.scp.datasets import encode, make_ct

    sink = BrokenSink()
    storage = StorageSettings(spool_dir=tmp_path, reserve_space_gb=0, watermark_percent=100)
    scp = StoreScp(ScpSettings(port=0), storage, Spool.from_settings(storage), FakeRegistry(), sink)
    await scp.start()
    try:
        reader, writer = await raw.associate(scp.bound_port)
        ct = make_ct()
        assert await raw.store(reader, writer, 1, encode(ct), ct.SOPInstanceUID) == 0
        await raw.release(reader, writer)
    finally:
        await scp.stop()
    assert len(list(tmp_path.rglob("*.dcm"))) == 1


async def test_stop_closes_pending_connections_at_once(tmp_path):
    """Connections that never sent an A-ASSOCIATE-RQ have nothing to finish: stop() does not wait for them."""
    async with running_scp(tmp_path / "spool") as scp:
        idle = [await raw.connect(scp.port) for _ in range(3)]
        async with asyncio.timeout(5):
            while scp.scp.pending_connections < 3:
                await asyncio.sleep(0.01)
        assert scp.scp.active_associations == 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        await scp.scp.stop()
        assert loop.time() - started < 1.0  # stop_timeout is 30 s
        records = await scp.sink.wait_records(3)
        for reader, writer in idle:
            assert (await reader.read())[:1] == b"\x07"  # A-ABORT, then closed
            writer.close()
    assert {r.outcome for r in records} == {"aborted: server stopping"}


async def test_an_instance_is_in_progress_from_its_command_to_its_last_fragment(tmp_path):
    """What the assembler asks before closing a study: is an instance still arriving for this AE title?"""
    import time

    from tests.dicom_adapter.scp.datasets import encode, make_ct

    async with running_scp(tmp_path) as running:
        reader, writer = await raw.associate(running.port)
        ct = make_ct(size=256)
        data = encode(ct)
        before = time.monotonic()
        writer.write(raw.p_data(1, raw.c_store_rq(1, raw.CT_IMAGE_STORAGE, ct.SOPInstanceUID), command=True, last=True))
        writer.write(raw.p_data(1, data[:1000], command=False, last=False))
        await writer.drain()
        for _ in range(200):
            if running.scp.instances_in_progress():
                break
            await asyncio.sleep(0.01)
        [(called, started)] = running.scp.instances_in_progress()
        assert called == "CLARA" and before <= started <= time.monotonic()
        writer.write(raw.p_data(1, data[1000:], command=False, last=True))
        pdu_type, body = await raw.read_pdu(reader)
        assert pdu_type == 4 and raw.response_status(body) == 0
        assert running.scp.instances_in_progress() == []
        await raw.release(reader, writer)
