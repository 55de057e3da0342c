from __future__ import annotations

import os
import zlib

import pytest
import xxhash

from dicom_adapter.storage.completion import RECORD_SIZE, Completion, encode_record, read_completion
from dicom_adapter.storage.instance_file import FileMeta, encode_file_meta
from dicom_adapter.storage.recovery import Decision, decide
from dicom_adapter.storage.spool import Spool
from tests.dicom_adapter.scp.datasets import encode, make_ct

ASSOCIATION = "20261122T010557695-16eb7d1e"


def incoming_file(
    spool: Spool, name: str = "x.part", record: bool = True, received_ns: int = 1000, sop: str = "", version: int = 2
):
    """A file as the receiver leaves it in `.incoming/` right after its fdatasync."""
    ds = make_ct(sop=sop or None)
    meta = bytearray(
        encode_file_meta(
            FileMeta(
                sop_class_uid=ds.SOPClassUID,
                sop_instance_uid=ds.SOPInstanceUID,
                transfer_syntax="1.2.840.10008.1.2.1",
                implementation_class_uid="1.2.3",
                implementation_version_name="TEST",
                calling_ae_title="STORESCU",
                called_ae_title="CLARA",
                sending_address="dicom://127.0.0.1:4242",
            )
        )
    )
    data = encode(ds)
    if record:
        meta[-RECORD_SIZE:] = encode_record(len(data), xxhash.xxh3_64_intdigest(data), received_ns, ASSOCIATION)
        if version == 1:  # as releases before XXH3 wrote it: CRC32 where the checksum is
            meta[-RECORD_SIZE + 4 : -RECORD_SIZE + 6] = b"\x01\x00"
            meta[-RECORD_SIZE + 16 : -RECORD_SIZE + 24] = zlib.crc32(data).to_bytes(8, "little")
    spool.incoming.mkdir(parents=True, exist_ok=True)
    path = spool.incoming / name
    path.write_bytes(bytes(meta) + data)
    return ds, path


def test_complete_file_is_moved_to_its_final_name_and_scanned(tmp_path):
    spool = Spool(tmp_path)
    ds, path = incoming_file(spool)
    assert spool.prepare() == 0
    final = tmp_path / "CLARA" / ASSOCIATION / f"{ds.SOPInstanceUID}.dcm"
    assert final.exists() and not path.exists()
    (instance,) = Spool(tmp_path).scan()
    assert instance.path == final
    assert instance.sop_instance_uid == ds.SOPInstanceUID
    assert instance.association_id == ASSOCIATION


def test_scan_before_prepare_recovers_too(tmp_path):
    spool = Spool(tmp_path, fsync=False)
    ds, _ = incoming_file(spool)
    (instance,) = spool.scan()
    assert instance.sop_instance_uid == ds.SOPInstanceUID
    assert spool.prepare() == 0  # recovered once, nothing left


def test_truncated_file_is_deleted(tmp_path):
    spool = Spool(tmp_path)
    _, path = incoming_file(spool)
    path.write_bytes(path.read_bytes()[:-100])
    assert read_completion(path) is None
    assert spool.prepare() == 1
    assert list(spool.files()) == [] and list(spool.incoming.iterdir()) == []


def test_a_file_spooled_by_an_earlier_release_crc32_record_is_recovered(tmp_path):
    spool = Spool(tmp_path)
    ds, path = incoming_file(spool, version=1)
    record = read_completion(path)
    assert record is not None and record.checksum == zlib.crc32(path.read_bytes()[-record.length :])
    assert spool.prepare() == 0
    assert [p.name for p in spool.files()] == [f"{ds.SOPInstanceUID}.dcm"]


def test_checksum_mismatch_is_deleted(tmp_path):
    spool = Spool(tmp_path)
    _, path = incoming_file(spool)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # same length, one byte of the data set never reached the disk
    path.write_bytes(bytes(data))
    assert read_completion(path) is None
    assert spool.prepare() == 1
    assert list(spool.files()) == []


def test_file_without_record_and_garbage_are_deleted_but_an_empty_spare_is_kept(tmp_path):
    spool = Spool(tmp_path)
    incoming_file(spool, "streaming.part", record=False)
    (spool.incoming / "spare.part").write_bytes(b"")
    (spool.incoming / "junk.part").write_bytes(b"\x00" * 50)
    (spool.incoming / "stray.tmp").write_bytes(b"")
    assert spool.prepare() == 3
    assert list(spool.files()) == [] and list(spool.incoming.iterdir()) == [spool.incoming / "spare.part"]
    assert len(spool.spares) == 1  # reused, not made again


def test_an_older_copy_never_replaces_a_newer_resend(tmp_path):
    spool = Spool(tmp_path)
    ds, _ = incoming_file(spool, "new.part", received_ns=2000)
    spool.prepare()
    final = next(spool.files())
    newer = final.read_bytes()
    incoming_file(spool, "old.part", received_ns=1000, sop=ds.SOPInstanceUID)
    assert Spool(tmp_path).prepare() == 0
    assert final.read_bytes() == newer
    assert list(spool.incoming.iterdir()) == []


def _completion(received_ns: int, sop: str = "1.2.3", association: str = ASSOCIATION) -> Completion:
    return Completion("CLARA", sop, association, 10, 0, received_ns)


def test_decide():
    assert decide(None, None) is Decision.DELETE
    assert decide(_completion(5, sop=""), None) is Decision.DELETE
    assert decide(_completion(5, association=""), None) is Decision.DELETE
    assert decide(_completion(5), None) is Decision.MOVE
    assert decide(_completion(5), _completion(4)) is Decision.MOVE
    assert decide(_completion(5), _completion(6)) is Decision.STALE


def test_a_complete_file_recovery_cannot_move_is_kept_for_the_next_start(tmp_path, monkeypatch):
    """ENOSPC (or EIO) while moving an acknowledged file into place must not turn into deleting it."""
    import dicom_adapter.storage.recovery as recovery_module

    spool = Spool(tmp_path)
    ds, path = incoming_file(spool)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recovery_module, "place_file", disk_full)
    assert spool.prepare() == 0
    assert path.exists() and list(spool.files()) == []
    monkeypatch.undo()
    assert Spool(tmp_path).prepare() == 0  # the next start moves it
    assert [p.name for p in Spool(tmp_path).files()] == [f"{ds.SOPInstanceUID}.dcm"]


@pytest.mark.filterwarnings("ignore:(Invalid value|The value length .*) for VR UI:UserWarning")
def test_a_file_of_an_earlier_release_with_an_invalid_uid_is_recovered_under_a_hashed_name(tmp_path):
    """Before UIDs were checked, a 300-character UID left an acknowledged file stuck in .incoming/
    (its name too long to rename to); two UIDs differing in '/' and '_' shared one name."""
    spool = Spool(tmp_path)
    uids = ("1.2." + "3" * 296, "9/9", "9_9")
    for n, uid in enumerate(uids):
        incoming_file(spool, name=f"{n}.part", sop=uid)
    assert spool.prepare() == 0
    files = list(spool.files())
    assert len(files) == 3 and all(p.name.startswith("_") and len(p.name) < 80 for p in files)
    assert not [p for p in spool.incoming.iterdir() if p.stat().st_size]


def test_a_file_a_platform_holds_by_hard_link_is_placed_not_dropped(tmp_path):
    """The placement (link to the final name, unlink) was lost in a crash, but the platform's hard link into
    a payload was made durable: the file has two names, neither of them its final one. It is placed."""
    spool = Spool(tmp_path / "spool")
    ds, path = incoming_file(spool)
    payload = tmp_path / "payload.dcm"
    os.link(path, payload)
    assert spool.prepare() == 0
    final = tmp_path / "spool" / "CLARA" / ASSOCIATION / f"{ds.SOPInstanceUID}.dcm"
    assert final.exists() and final.samefile(payload) and not path.exists()
