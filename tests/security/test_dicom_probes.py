"""The DICOM SCP probes of issue #11 (part 4), replayed against a real SCP on a real loopback socket.

Each probe found a hole on a stack started with defaults; each test sends what the probe sent (the raw
SCU below misbehaves on purpose, DCMTK plays the PACS) and asserts the safe outcome: a named failure
status, nothing in the spool or handed to the pipeline, the association still usable, the PACS served.

1. acknowledged data lost: spool files named after an unchecked Affected SOP Instance UID;
2. truncated data sets answered Success;
3. idle TCP connections locking every PACS out;
4. PHI files and folders readable by every local user.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
import uuid
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import MRImageStorage

from tests.conftest import require_peer
from tests.dicom_adapter.scp import rawclient as raw
from tests.dicom_adapter.scp.datasets import encode, make_ct, write_ct
from tests.dicom_adapter.scp.fakes import CALLED, CALLING, running_scp
from tests.support import http
from tests.support.harness import Adapter, free_port, seed, write_study
from tests.support.network import closed_by_server, idle_sockets

pytestmark = [
    pytest.mark.integration,
    # The probes build data sets with broken UIDs on purpose; pydicom says so when they are encoded.
    pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning"),
    pytest.mark.filterwarnings("ignore:The value length .* for VR UI:UserWarning"),
]

SUCCESS = 0x0000
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
DATA_SET_TRUNCATED = 0xC001
INVALID_UID = 0xC002
SOP_INSTANCE_UID_MISMATCH = 0xC003


def spooled(root: Path) -> list[Path]:
    return sorted(root.rglob("*.dcm"))


def partials(root: Path) -> list[Path]:
    """Files of `.incoming/` holding data (the empty ones are spares)."""
    return sorted(p for p in (root / ".incoming").iterdir() if p.stat().st_size)


async def store_as(reader, writer, message_id: int, data: bytes, sop_instance: str, sop_class: str) -> int:
    """One C-STORE on context 1 whose command names `sop_class` / `sop_instance`, whatever the data set says."""
    writer.write(raw.p_data(1, raw.c_store_rq(message_id, sop_class, sop_instance), command=True, last=True))
    for start in range(0, len(data), 16000):
        writer.write(raw.p_data(1, data[start : start + 16000], command=False, last=start + 16000 >= len(data)))
    pdu_type, body = await raw.read_pdu(reader)
    assert pdu_type == 4, (pdu_type, body)
    return raw.response_status(body)


async def good_store_still_works(reader, writer, implicit: bool = False) -> Dataset:
    """The association is still usable: a valid instance gets Success."""
    ct = make_ct()
    assert await raw.store(reader, writer, 99, encode(ct, implicit=implicit), ct.SOPInstanceUID) == SUCCESS
    return ct


async def storescu(port: int, *files: Path, timeout: float = 60.0) -> tuple[int, str, float]:
    """DCMTK storescu, the PACS: (exit code, output, seconds taken)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        require_peer("storescu"), "-nh", "-aec", CALLED, "-aet", CALLING, "127.0.0.1", str(port), *map(str, files),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(timeout):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace"), time.monotonic() - started


# ---------------------------------------------------------------- 1. acknowledged data lost


async def test_a_data_set_naming_another_instance_than_its_command_is_refused_and_the_first_copy_kept(tmp_path):
    """The probe: two C-STOREs with one Affected SOP Instance UID and two different data sets. Before,
    both got Success and the second file replaced the first: an acknowledged instance lost."""
    first, second = make_ct(), make_ct()
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        statuses = [
            await raw.store(reader, writer, 1, encode(first), first.SOPInstanceUID),
            await raw.store(reader, writer, 2, encode(second), first.SOPInstanceUID),  # names `first`
            await raw.store(reader, writer, 3, encode(second), "1.2.3.4.5"),  # names an instance it is not
        ]
        good = await good_store_still_works(reader, writer)
        await raw.release(reader, writer)
        (record,) = await scp.sink.wait_records(1)
    assert statuses == [SUCCESS, SOP_INSTANCE_UID_MISMATCH, SOP_INSTANCE_UID_MISMATCH]
    assert [i.sop_instance_uid for i in scp.sink.instances] == [first.SOPInstanceUID, good.SOPInstanceUID]
    (kept,) = (p for p in spooled(tmp_path / "spool") if p.stem == first.SOPInstanceUID)
    assert kept.read_bytes().endswith(encode(first))  # the acknowledged copy, intact
    assert len(spooled(tmp_path / "spool")) == 2 and partials(tmp_path / "spool") == []
    assert record.failures == 2 and record.instances == 2 and record.outcome == "released"


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("1.2.3/9", "not only digits and '.'"),
        ("1.2.3_9", "not only digits and '.'"),
        ("1.2." + "3" * 296, "300 characters long (at most 64)"),
        ("1." + "2" * 63, "65 characters long (at most 64)"),
        ("1.02.3", "a component with a leading zero"),
        ("1..3", "an empty component"),
        ("1.2.3.", "an empty component"),
        ("../../etc/passwd", "not only digits and '.'"),
    ],
)
async def test_an_invalid_affected_sop_instance_uid_is_refused_and_nothing_is_stored(tmp_path, uid, problem):
    """`X/9` and `X_9` used to share one file (one instance lost); 300 characters made a file name the
    file system refuses (acknowledged, then stuck in .incoming/). The data set says the same UID: only
    the UID's syntax is wrong."""
    ct = make_ct(sop=uid)
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        writer.write(raw.p_data(1, raw.c_store_rq(1, raw.CT_IMAGE_STORAGE, uid), command=True, last=True))
        writer.write(raw.p_data(1, encode(ct), command=False, last=True))
        pdu_type, body = await raw.read_pdu(reader)
        await good_store_still_works(reader, writer)
        await raw.release(reader, writer)
    assert raw.response_status(body) == INVALID_UID
    assert f"Affected SOP Instance UID: {problem}"[:64].encode() in body  # the Error Comment says why (LO: 64)
    assert len(scp.sink.instances) == 1 and scp.sink.instances[0].sop_instance_uid != uid
    assert len(spooled(tmp_path / "spool")) == 1
    assert partials(tmp_path / "spool") == []


async def test_a_non_ascii_affected_sop_instance_uid_is_refused_and_the_association_goes_on(tmp_path):
    """Its response echoes the UID back: that must not fail the association either."""
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        status = await raw.store(reader, writer, 1, encode(make_ct()), "1.2.\u00e4")
        await good_store_still_works(reader, writer)
        await raw.release(reader, writer)
        (record,) = await scp.sink.wait_records(1)
    assert status == INVALID_UID
    assert record.outcome == "released" and record.failures == 1 and record.instances == 1


async def test_uids_differing_only_in_unsafe_characters_never_share_a_file(tmp_path):
    """Both refused (neither is a UID); two valid instances always get two files."""
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        statuses = [await raw.store(reader, writer, n, encode(make_ct(sop=u)), u) for n, u in enumerate(("9/9", "9_9"))]
        a, b = make_ct(sop="1.2.826.0.1.9"), make_ct(sop="1.2.826.0.1.99")
        statuses += [await raw.store(reader, writer, 5, encode(a), a.SOPInstanceUID)]
        statuses += [await raw.store(reader, writer, 6, encode(b), b.SOPInstanceUID)]
        await raw.release(reader, writer)
    assert statuses == [INVALID_UID, INVALID_UID, SUCCESS, SUCCESS]
    assert sorted(p.name for p in spooled(tmp_path / "spool")) == ["1.2.826.0.1.9.dcm", "1.2.826.0.1.99.dcm"]


async def test_a_sop_class_other_than_the_commands_is_refused_as_data_set_does_not_match(tmp_path):
    mr = make_ct()
    mr.SOPClassUID = MRImageStorage  # the command still says CT Image Storage
    no_class = make_ct()
    del no_class.SOPClassUID
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        statuses = [
            await raw.store(reader, writer, 1, encode(mr), mr.SOPInstanceUID),
            await raw.store(reader, writer, 2, encode(no_class), no_class.SOPInstanceUID),
            await store_as(reader, writer, 3, encode(make_ct()), "1.2.3.4", "1.2.840.10008.5.1.4.1.1.2/x"),
        ]
        await good_store_still_works(reader, writer)
        await raw.release(reader, writer)
    assert statuses == [DATA_SET_DOES_NOT_MATCH_SOP_CLASS, DATA_SET_DOES_NOT_MATCH_SOP_CLASS, INVALID_UID]
    assert len(scp.sink.instances) == 1 and len(spooled(tmp_path / "spool")) == 1


async def test_a_study_uid_that_cannot_name_a_folder_is_refused(tmp_path):
    """The payload sent to the platform files instances under dcm/<study>/<series>/: a 300-character
    Study UID would be acknowledged, then fail the upload."""
    ct = make_ct(study="1.2." + "3" * 296)
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        status = await raw.store(reader, writer, 1, encode(ct), ct.SOPInstanceUID)
        await raw.release(reader, writer)
    assert status == INVALID_UID
    assert scp.sink.instances == [] and spooled(tmp_path / "spool") == []


async def test_the_same_instance_sent_twice_keeps_both_copies_for_the_assembler_to_choose(tmp_path):
    """A re-sent SOP Instance UID is the same instance: both copies are answered Success and reported,
    each in a file of its own (within one association too: the first copy may already be in a closed
    payload), and the assembler's overwriteSameInstance picks one (docs/dicom-scp.md)."""
    ct = make_ct()
    again = make_ct(sop=ct.SOPInstanceUID, study=ct.StudyInstanceUID, series=ct.SeriesInstanceUID)
    again.AccessionNumber = "ACC2"  # same instance, corrected attribute
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        assert await raw.store(reader, writer, 1, encode(ct), ct.SOPInstanceUID) == SUCCESS
        assert await raw.store(reader, writer, 2, encode(again), ct.SOPInstanceUID) == SUCCESS
        await raw.release(reader, writer)
        reader, writer = await raw.associate(scp.port)
        assert await raw.store(reader, writer, 1, encode(ct), ct.SOPInstanceUID) == SUCCESS
        await raw.release(reader, writer)
        await scp.sink.wait_records(2)
    first, second, other = scp.sink.instances
    assert len({first.path, second.path, other.path}) == 3
    assert first.path.read_bytes().endswith(encode(ct)) and second.path.read_bytes().endswith(encode(again))
    assert second.path.name.startswith(f"{ct.SOPInstanceUID}~")
    assert len(spooled(tmp_path / "spool")) == 3


# ---------------------------------------------------------------- 2. truncated data sets


def _short(data: bytes, missing: int = 5 * 1024) -> bytes:
    return data[:-missing]


@pytest.mark.parametrize("transfer", [raw.EXPLICIT_VR_LE, raw.IMPLICIT_VR_LE])
async def test_pixel_data_5_kb_short_is_refused_and_nothing_reaches_the_pipeline(tmp_path, transfer):
    """The probe: the pixel data element declares 131,072 bytes, 5 KB fewer arrive, the last fragment
    flag is set. docs/dicom-scp.md promised a 0xC000-range failure; it was answered Success."""
    ct = make_ct(size=256)
    data = _short(encode(ct, implicit=transfer == raw.IMPLICIT_VR_LE))
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port, transfer=transfer)
        writer.write(raw.p_data(1, raw.c_store_rq(1, raw.CT_IMAGE_STORAGE, ct.SOPInstanceUID), True, True))
        for start in range(0, len(data), 16000):
            writer.write(raw.p_data(1, data[start : start + 16000], command=False, last=start + 16000 >= len(data)))
        pdu_type, body = await raw.read_pdu(reader)
        await good_store_still_works(reader, writer, implicit=transfer == raw.IMPLICIT_VR_LE)
        await raw.release(reader, writer)
        (record,) = await scp.sink.wait_records(1)
    assert raw.response_status(body) == DATA_SET_TRUNCATED
    assert b"element (7FE0,0010) is 5120 bytes longer than the data set" in body
    assert len(scp.sink.instances) == 1 and scp.sink.instances[0].sop_instance_uid != ct.SOPInstanceUID
    assert not any(p.stem == ct.SOPInstanceUID for p in spooled(tmp_path / "spool"))
    assert partials(tmp_path / "spool") == []
    assert record.failures == 1 and record.instances == 1


async def test_a_truncated_data_set_whose_header_outgrows_the_buffered_head_is_refused(tmp_path):
    """A 100 KB private element before the pixel data: the check reads element headers back from the
    spool file past the first 64 KB it keeps in memory."""
    ct = make_ct(size=256)
    ct.add_new(0x00290010, "LO", "PROBE")
    ct.add_new(0x00291010, "OB", bytes(100 * 1024))
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        short = await raw.store(reader, writer, 1, _short(encode(ct), 2), ct.SOPInstanceUID)
        whole = await raw.store(reader, writer, 2, encode(ct), ct.SOPInstanceUID)
        await raw.release(reader, writer)
    assert (short, whole) == (DATA_SET_TRUNCATED, SUCCESS)
    (kept,) = spooled(tmp_path / "spool")
    assert kept.read_bytes().endswith(encode(ct))


async def test_a_sequence_whose_delimiter_never_came_is_refused(tmp_path):
    ct = make_ct()
    item = Dataset()
    item.RequestedProcedureID = "RP1"
    ct.RequestAttributesSequence = Sequence([item])  # (0040,0275): the last element once pixels are gone
    ct["RequestAttributesSequence"].is_undefined_length = True
    del ct.PixelData
    data = encode(ct)
    assert data.endswith(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")
    async with running_scp(tmp_path / "spool") as scp:
        reader, writer = await raw.associate(scp.port)
        statuses = [
            await raw.store(reader, writer, 1, data[:-8], ct.SOPInstanceUID),
            await raw.store(reader, writer, 2, data, ct.SOPInstanceUID),
        ]
        await raw.release(reader, writer)
    assert statuses == [DATA_SET_TRUNCATED, SUCCESS]


# ---------------------------------------------------------------- 3. idle connections


async def wait_for(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_fifty_idle_connections_do_not_lock_the_pacs_out(tmp_path):
    """The probe, with default settings: 25 idle sockets (no A-ASSOCIATE-RQ) used to fill the 25
    association slots until the 30 s ACSE timeout. Now they hold no association slot, at most
    `max_pending_connections` (32) stay open, and storescu stores at once, while most idle sockets are
    still open (it was served despite them, not after they timed out)."""
    study = [write_ct(tmp_path / f"{n}.dcm", make_ct()) for n in range(3)]
    async with running_scp(tmp_path / "spool") as scp:
        with idle_sockets(scp.port, 50) as socks:
            await wait_for(lambda: sum(map(closed_by_server, socks)) == 18)  # the 18 oldest are evicted at once
            assert scp.scp.pending_connections == 32 and scp.scp.active_associations == 0
            assert all(closed_by_server(s) for s in socks[:18])  # the oldest went first
            code, output, seconds = await storescu(scp.port, *study)
            still_open = sum(not closed_by_server(s) for s in socks)
        records = await scp.sink.wait_records(20)  # 18 + 1 evicted, and storescu's
    assert code == 0, output
    assert seconds < 4.0  # less than association_request_timeout: no waiting for anything to time out
    assert still_open >= 30
    assert len(scp.sink.instances) == 3
    outcomes = [r.outcome for r in records]
    assert outcomes.count("error: evicted: too many pending connections") >= 18 and "released" in outcomes


async def test_an_attacker_reopening_idle_connections_all_along_does_not_lock_the_pacs_out(tmp_path):
    """Idle connections opened as fast as the loop allows (hundreds a second), all kept open, while the
    PACS stores three times: evicting the oldest pending connection keeps pushing the attacker's out."""
    study = [write_ct(tmp_path / "ct.dcm", make_ct())]
    held: list[socket.socket] = []
    opened = 0
    stop = asyncio.Event()

    async def flood(port: int) -> None:
        nonlocal opened
        while not stop.is_set():
            for sock in [s for s in held if closed_by_server(s)]:  # re-open what the SCP closed
                sock.close()
                held.remove(sock)
            held.append(socket.create_connection(("127.0.0.1", port)))
            opened += 1
            await asyncio.sleep(0.003)

    async with running_scp(tmp_path / "spool") as scp:
        attacker = asyncio.create_task(flood(scp.port))
        try:
            await wait_for(lambda: opened > 100)
            results = [await storescu(scp.port, *study) for _ in range(3)]
            assert scp.scp.pending_connections <= 32
        finally:
            stop.set()
            await attacker
            for sock in held:
                sock.close()
    assert [code for code, _, _ in results] == [0, 0, 0], results
    assert max(seconds for _, _, seconds in results) < 4.0
    assert len(scp.sink.instances) == 3


async def test_idle_connections_are_closed_after_the_association_request_timeout(tmp_path):
    """ARTIM for connections that never speak: association_request_timeout, not the 30 s acse_timeout."""
    async with running_scp(tmp_path / "spool", scp={"association_request_timeout": 0.5}) as scp:
        with idle_sockets(scp.port, 10) as socks:
            started = time.monotonic()
            await wait_for(lambda: all(map(closed_by_server, socks)), timeout=10)
            seconds = time.monotonic() - started
            assert socks[0].recv(16)[:1] == b"\x07"  # an A-ABORT, then the connection closes
        records = await scp.sink.wait_records(10)
    assert seconds < 3.0
    assert {r.outcome for r in records} == {"error: timeout"}
    assert scp.scp.pending_connections == 0


async def test_idle_connections_do_not_count_against_the_association_limit(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool", scp={"maximum_associations": 1}) as scp:
        with idle_sockets(scp.port, 10):
            await wait_for(lambda: scp.scp.pending_connections == 10)
            process = await asyncio.create_subprocess_exec(
                echoscu, "-aec", CALLED, "-aet", "ECHOSCU", "127.0.0.1", str(scp.port),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output


async def test_a_rejected_association_lingering_holds_no_association_slot(tmp_path):
    """A rejected peer that keeps its socket open (the SCP waits up to 2 s for it to close first) is a
    pending connection: it neither blocks the next PACS nor escapes the pending cap."""
    study = [write_ct(tmp_path / "ct.dcm", make_ct())]
    async with running_scp(tmp_path / "spool", scp={"maximum_associations": 1}) as scp:
        reader, writer = await raw.connect(scp.port)
        writer.write(raw.associate_rq(CALLED, "STRANGER", [(1, raw.CT_IMAGE_STORAGE, [raw.EXPLICIT_VR_LE])]))
        assert (await raw.read_pdu(reader))[0] == 3  # A-ASSOCIATE-RJ; the socket stays open
        assert scp.scp.active_associations == 0 and scp.scp.pending_connections == 1
        code, output, _ = await storescu(scp.port, *study)
        writer.close()
    assert code == 0, output


# ---------------------------------------------------------------- 4. PHI on disk


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000])
async def test_spool_files_and_folders_are_private_whatever_the_umask(tmp_path, umask):
    """The probe found 0644 files and 0755 folders under the spool (PHI readable by every local user)."""
    source = write_ct(tmp_path / "ct.dcm", make_ct())
    previous = os.umask(umask)
    try:
        async with running_scp(tmp_path / "clara" / "spool") as scp:
            code, output, _ = await storescu(scp.port, source)
            await scp.sink.wait_records(1)
    finally:
        os.umask(previous)
    assert code == 0, output
    (instance,) = scp.sink.instances
    root = tmp_path / "clara" / "spool"
    folders = [root, root / ".incoming", instance.path.parent, instance.path.parent.parent]
    assert {mode(p) for p in folders} == {0o700}
    assert mode(instance.path) == 0o600
    assert {mode(p) for p in (root / ".incoming").iterdir()} == {0o600}  # spare files: data streams into them


async def test_a_spool_made_by_an_earlier_release_is_made_private_at_start(tmp_path):
    root = tmp_path / "spool"
    (root / ".incoming").mkdir(parents=True)
    (root / ".incoming" / "old-spare.part").touch(mode=0o644)
    (root / "CLARA" / "a1").mkdir(parents=True)
    for path in (root, root / ".incoming", root / "CLARA", root / "CLARA" / "a1"):
        path.chmod(0o755)
    (root / ".incoming" / "old-spare.part").chmod(0o644)
    async with running_scp(root):
        assert mode(root) == 0o700 and mode(root / ".incoming") == 0o700  # nobody else gets below the root
        assert mode(root / ".incoming" / "old-spare.part") == 0o600  # adopted spares are tightened


# ---------------------------------------------------------------- the adapter process, with defaults


def test_the_adapter_with_default_settings_withstands_every_probe(tmp_path):
    """`python -m dicom_adapter serve` with default `scp:` settings (port aside): 50 idle sockets, a
    truncated data set and a mismatched UID; storescu is served at once, nothing bad reaches a payload,
    the spool is private."""
    require_peer("storescu")
    adapter = Adapter(tmp_path, f"127.0.0.1:{free_port()}", seed=seed({"seg": uuid.uuid4().hex}))
    adapter.start()
    try:
        with idle_sockets(adapter.dicom_port, 50) as socks:
            asyncio.run(_probe_truncated_and_mismatched(adapter.dicom_port))
            study = write_study(tmp_path / "study", series=1, per_series=2)
            code, output, seconds = asyncio.run(storescu(adapter.dicom_port, *study))
            assert code == 0, output
            assert seconds < 4.0
            assert sum(not closed_by_server(s) for s in socks) >= 25
        payloads = http.get(f"{adapter.api}/api/payloads", timeout=10).json()
        associations = http.get(f"{adapter.api}/api/associations", timeout=10).json()
    finally:
        adapter.service.terminate()
    assert [p["instances"] for p in payloads] == [2]  # the study only: nothing from the probes
    probe = next(a for a in associations if a["failures"])
    assert probe["failures"] == 2 and probe["instances"] == 0
    spool = tmp_path / "adapter" / "spool"
    assert mode(spool) == 0o700
    assert {mode(p) for p in spool.rglob("*.dcm")} == {0o600}


async def _probe_truncated_and_mismatched(port: int) -> None:
    ct, other = make_ct(size=256), make_ct()
    reader, writer = await raw.associate(port)
    assert await raw.store(reader, writer, 1, _short(encode(ct)), ct.SOPInstanceUID) == DATA_SET_TRUNCATED
    assert await raw.store(reader, writer, 2, encode(other), ct.SOPInstanceUID) == SOP_INSTANCE_UID_MISMATCH
    await raw.release(reader, writer)
