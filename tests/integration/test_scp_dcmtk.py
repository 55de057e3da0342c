"""The asyncio SCP against real DCMTK senders (echoscu, storescu) and pynetdicom, over loopback."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pydicom.data
import pytest
from pydicom import dcmread

from tests.conftest import free_port, require_peer
from tests.dicom_adapter.scp.datasets import dataset_bytes, make_ct, write_ct
from tests.dicom_adapter.scp.fakes import CALLED, CALLING, running_scp

pytestmark = pytest.mark.integration


async def run(*argv: str, timeout: float = 60.0) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(timeout):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def storescu(port: int, *files: Path, called: str = CALLED, calling: str = CALLING, extra=()) -> tuple[int, str]:
    exe = require_peer("storescu")
    return await run(exe, "-nh", *extra, "-aec", called, "-aet", calling, "127.0.0.1", str(port), *map(str, files))


async def test_echoscu_gets_success(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool") as scp:
        code, output = await run(echoscu, "-aec", CALLED, "-aet", "ECHOSCU", "127.0.0.1", str(scp.port))
        records = await scp.sink.wait_records(1)
    assert code == 0, output
    assert records[0].outcome == "released"
    assert records[0].echoes == 1


async def test_unknown_called_ae_is_rejected_permanently(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool") as scp:
        code, output = await run(echoscu, "-aec", "NOBODY", "-aet", "ECHOSCU", "127.0.0.1", str(scp.port))
        records = await scp.sink.wait_records(1)
    assert code != 0
    assert "Rejected Permanent, Source: Service User" in output
    assert "Called AE Title Not Recognized" in output
    assert records[0].outcome == "rejected: called AE title not recognized"


async def test_unknown_calling_ae_is_rejected_before_the_called_ae_is_checked(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool") as scp:
        code, output = await run(echoscu, "-aec", "NOBODY", "-aet", "STRANGER", "127.0.0.1", str(scp.port))
        records = await scp.sink.wait_records(1)
    assert code != 0
    assert "Calling AE Title Not Recognized" in output
    assert records[0].outcome == "rejected: calling AE title not recognized"


async def test_unknown_calling_ae_is_accepted_when_sources_are_not_checked(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool") as scp:
        scp.registry.reject_unknown_sources = False
        code, output = await run(echoscu, "-aec", CALLED, "-aet", "STRANGER", "127.0.0.1", str(scp.port))
    assert code == 0, output


async def test_disabled_verification_refuses_the_context_not_the_association(tmp_path):
    echoscu = require_peer("echoscu")
    async with running_scp(tmp_path / "spool", scp={"verification_enabled": False}) as scp:
        code, output = await run(echoscu, "-aec", CALLED, "-aet", "ECHOSCU", "127.0.0.1", str(scp.port))
    assert code != 0
    assert "No Acceptable Presentation Contexts" in output


async def test_watermark_refuses_associations_transiently_and_stores_nothing(tmp_path):
    source = write_ct(tmp_path / "ct.dcm", make_ct())
    async with running_scp(tmp_path / "spool", storage={"reserve_space_gb": 1e9}) as scp:
        code, output = await storescu(scp.port, source)
        records = await scp.sink.wait_records(1)
    assert code != 0
    assert "Rejected Transient" in output
    assert "Temporary Congestion" in output
    assert records[0].outcome == "rejected: free disk space below the watermark"
    assert scp.sink.instances == []
    assert not list((tmp_path / "spool").rglob("*.dcm"))


def _without_trailing_padding(data: bytes) -> bytes:
    """DCMTK drops Data Set Trailing Padding (FFFC,FFFC) when it sends; pynetdicom sends bytes as stored."""
    index = data.rfind(b"\xfc\xff\xfc\xffOB\0\0")
    return (
        data[:index]
        if index > 0 and index + 12 + int.from_bytes(data[index + 8 : index + 12], "little") == len(data)
        else data
    )


def _part10_test_files() -> list[Path]:
    files = []
    # Only the files shipped inside pydicom: get_testdata_files() would try to download the rest.
    for path in sorted((Path(pydicom.data.__file__).parent / "test_files").rglob("*.dcm")):
        head = path.read_bytes()[:132]
        broken = any(word in path.name for word in ("truncated", "bad", "invalid"))  # re-encoded by senders
        if len(head) == 132 and head[128:] == b"DICM" and not broken:
            files.append(path)
    return files


# storescu proposes only uncompressed syntaxes unless told which compressed one to offer (one per run).
_STORESCU_OPTION = {
    "1.2.840.10008.1.2": "-xi",
    "1.2.840.10008.1.2.1": "-xe",
    "1.2.840.10008.1.2.2": "-xb",
    "1.2.840.10008.1.2.1.99": "-xd",
    "1.2.840.10008.1.2.4.50": "-xy",
    "1.2.840.10008.1.2.4.51": "-xx",
    "1.2.840.10008.1.2.4.70": "-xs",
    "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.4.81": "-xu",
    "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.91": "-xw",
    "1.2.840.10008.1.2.5": "-xr",
}


def _readable_sources(files: list[Path]) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(files by SOP Instance UID, files by transfer syntax) of the files pydicom can read."""
    by_uid: dict[str, list[Path]] = defaultdict(list)
    by_syntax: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        try:
            ds = dcmread(path, stop_before_pixels=True)
            meta = ds.file_meta
            # Some test files disagree between file meta and data set; senders use either.
            for uid in {str(meta.MediaStorageSOPInstanceUID), str(ds.get("SOPInstanceUID", ""))}:
                by_uid[uid].append(path)
            by_syntax[str(meta.TransferSyntaxUID)].append(path)
        except Exception:  # noqa: BLE001 - some test files are deliberately broken
            continue
    return by_uid, by_syntax


async def _storescp(tmp_path: Path):
    """DCMTK's storescp in bit-preserving mode: it writes data sets exactly as they arrived."""
    exe = require_peer("storescp")
    out = tmp_path / "storescp"
    out.mkdir()
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        exe,
        "+B",
        "+xa",
        "+uf",
        "-od",
        str(out),
        "-aet",
        CALLED,
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(20):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
    return process, port, out


def _reference(directory: Path) -> dict[tuple[str, str], list[bytes]]:
    """Data set bytes storescp wrote, by (SOP Instance UID, transfer syntax)."""
    reference: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for path in directory.iterdir():
        meta = dcmread(path, stop_before_pixels=True).file_meta
        reference[(str(meta.MediaStorageSOPInstanceUID), str(meta.TransferSyntaxUID))].append(dataset_bytes(path))
    return reference


async def test_storescu_testdata_arrives_byte_identical(tmp_path):
    """pydicom's bundled Part-10 files, one storescu run per transfer syntax storescu can propose (others,
    e.g. JPEG lossless process 14 (4.57) or HTJ2K, are skipped). storescu re-encodes some data sets as it
    sends them, so the oracle is what DCMTK's storescp +B (bit-preserving) wrote from the same run."""
    _, by_syntax = _readable_sources(_part10_test_files())
    process, reference_port, reference_dir = await _storescp(tmp_path)
    try:
        async with running_scp(tmp_path / "spool") as scp:
            runs = 0
            for syntax, option in _STORESCU_OPTION.items():
                if by_syntax.get(syntax):
                    await storescu(scp.port, *by_syntax[syntax], extra=("-R", option))
                    await storescu(reference_port, *by_syntax[syntax], extra=("-R", option))
                    runs += 1
            records = await scp.sink.wait_records(runs)
    finally:
        process.terminate()
        await process.wait()
    reference = _reference(reference_dir)
    compared: set[str] = set()
    matched = 0
    for instance in scp.sink.instances:
        candidates = reference.get((instance.path.stem, instance.transfer_syntax))
        if candidates:  # else storescp picked another syntax of the same context
            assert dataset_bytes(instance.path) in candidates, instance.path.name
            compared.add(instance.transfer_syntax)
            matched += 1
    # storescp stores anything; we refuse instances without Study/Series UID (0xA900), and only those.
    missing = {uid for uid, _ in reference} - {i.path.stem for i in scp.sink.instances}
    for path in reference_dir.iterdir():
        ds = dcmread(path, stop_before_pixels=True)
        if ds.file_meta.MediaStorageSOPInstanceUID in missing:
            assert not (ds.get("StudyInstanceUID") and ds.get("SeriesInstanceUID")), path.name
    assert sum(r.failures for r in records) >= len(missing)
    assert matched >= 40, matched
    assert len(compared) >= 9, compared


def _pynetdicom_send(port: int, by_syntax: dict[str, list[Path]]) -> int:
    """Send every file over one association per transfer syntax; returns how many got Success."""
    from pynetdicom import AE, build_context

    ae = AE(ae_title="PYNETDICOM")
    stored = 0
    for syntax in _STORESCU_OPTION:
        paths = by_syntax.get(syntax, [])
        classes = {str(dcmread(p, stop_before_pixels=True).file_meta.MediaStorageSOPClassUID) for p in paths}
        if not classes:
            continue
        ae.requested_contexts = [build_context(c, [syntax]) for c in sorted(classes)]
        assoc = ae.associate("127.0.0.1", port, ae_title=CALLED)
        assert assoc.is_established
        for path in paths:
            try:
                status = assoc.send_c_store(path)
            except (ValueError, AttributeError):
                continue  # pynetdicom refuses files without SOP Class / Instance UID
            stored += bool(status and status.Status == 0)
        assoc.release()
    return stored


async def test_pynetdicom_sender_data_sets_arrive_byte_identical(tmp_path):
    """pynetdicom sends some files as stored and re-encodes others; storescp +B is the oracle again."""
    _, by_syntax = _readable_sources(_part10_test_files())
    process, reference_port, reference_dir = await _storescp(tmp_path)
    try:
        async with running_scp(tmp_path / "spool") as scp:
            stored = await asyncio.to_thread(_pynetdicom_send, scp.port, by_syntax)
            await asyncio.to_thread(_pynetdicom_send, reference_port, by_syntax)
    finally:
        process.terminate()
        await process.wait()
    reference = _reference(reference_dir)
    assert stored == len(scp.sink.instances) >= 40
    for instance in scp.sink.instances:
        candidates = reference[(instance.sop_instance_uid, instance.transfer_syntax)]
        assert dataset_bytes(instance.path) in candidates, instance.path.name


async def test_eight_concurrent_associations_keep_their_studies_apart(tmp_path):
    studies = {}
    for n in range(8):
        study = make_ct().StudyInstanceUID
        folder = tmp_path / f"study{n}"
        folder.mkdir()
        studies[study] = [write_ct(folder / f"{i}.dcm", make_ct(study=study)) for i in range(5)]
    async with running_scp(tmp_path / "spool") as scp:
        results = await asyncio.gather(*(storescu(scp.port, *files) for files in studies.values()))
        records = await scp.sink.wait_records(8)
    assert all(code == 0 for code, _ in results), results
    assert sorted(r.instances for r in records) == [5] * 8
    by_association: dict[str, set[str]] = defaultdict(set)
    for instance in scp.sink.instances:
        by_association[instance.association_id].add(instance.study_instance_uid)
        assert instance.path.parent.name == instance.association_id
    assert len(by_association) == 8
    assert all(len(s) == 1 for s in by_association.values())
    assert set().union(*by_association.values()) == set(studies)
