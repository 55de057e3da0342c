from __future__ import annotations

import asyncio
import os
import stat

from dicom_adapter.scp.receiver import InstanceReceiver
from dicom_adapter.storage.instance_file import FileMeta, encode_file_meta
from dicom_adapter.storage.settings import StorageSettings
from dicom_adapter.storage.spool import Spool, instance_file_name, safe_name
from tests.dicom_adapter.scp.datasets import encode, make_ct


def _write(spool: Spool, called: str = "CLARA", association: str = "a1", **ct_kwargs):
    ds = make_ct(**ct_kwargs)
    meta = FileMeta(
        sop_class_uid=ds.SOPClassUID,
        sop_instance_uid=ds.SOPInstanceUID,
        transfer_syntax="1.2.840.10008.1.2.1",
        implementation_class_uid="1.2.3",
        implementation_version_name="TEST",
        calling_ae_title="STORESCU",
        called_ae_title=called,
        sending_address="dicom://10.0.0.7:4242",
    )
    temp, fd = spool.create_temp()
    os.write(fd, encode_file_meta(meta) + encode(ds))
    path = spool.commit(fd, temp, spool.association_dir(called, association), ds.SOPInstanceUID)
    return ds, path


def test_commit_moves_the_file_to_its_final_name(tmp_path):
    spool = Spool(tmp_path)
    spool.prepare()
    ds, path = _write(spool)
    assert path == tmp_path / "CLARA" / "a1" / f"{ds.SOPInstanceUID}.dcm"
    assert list(spool.incoming.iterdir()) == []


def test_prepare_deletes_partial_files_and_keeps_empty_ones_as_spares(tmp_path):
    spool = Spool(tmp_path)
    spool.prepare()
    for _ in range(3):
        _, fd = spool.create_temp()
        os.write(fd, b"partial")
    _, fd = spool.create_temp()  # taken, never written to: still a spare
    again = Spool(tmp_path)
    assert again.prepare() == 3
    assert len(list((tmp_path / ".incoming").iterdir())) == 1 and len(again.spares) == 1


def test_scan_rebuilds_instances_from_the_files(tmp_path):
    spool = Spool(tmp_path, fsync=False)
    spool.prepare()
    ds, path = _write(spool, called="CT/AE 1")
    (instance,) = spool.scan(group_by=lambda ae: "0008,0050")
    assert instance.path == path
    assert instance.called_ae_title == "CT/AE 1"
    assert instance.calling_ae_title == "STORESCU"
    assert instance.calling_host == "10.0.0.7"
    assert instance.association_id == "a1"
    assert instance.study_instance_uid == ds.StudyInstanceUID
    assert instance.series_instance_uid == ds.SeriesInstanceUID
    assert instance.sop_instance_uid == ds.SOPInstanceUID
    assert instance.transfer_syntax == "1.2.840.10008.1.2.1"
    assert instance.extra_tags == {"0008,0050": "ACC1"}
    assert instance.size == path.stat().st_size


def test_scan_skips_unreadable_files_without_deleting_them(tmp_path):
    spool = Spool(tmp_path, fsync=False)
    spool.prepare()
    _write(spool)
    junk = tmp_path / "CLARA" / "a1" / "junk.dcm"
    junk.write_bytes(b"not dicom")
    assert len(list(spool.scan())) == 1
    assert junk.exists()


def test_remove_prunes_empty_directories_and_commit_recreates_them(tmp_path):
    spool = Spool(tmp_path, fsync=False)
    spool.prepare()
    _, path = _write(spool)
    spool.remove(path)
    assert not (tmp_path / "CLARA").exists()
    _, again = _write(spool)
    assert again.exists()


def test_safe_name():
    assert safe_name("CT/AE 1") == "CT_AE_1"
    assert safe_name("..") == "_.."
    assert safe_name("1.2.3") == "1.2.3"
    assert safe_name("") == "_"  # an empty task id still names a folder of its own


def test_commit_writes_no_directory_flush_but_the_file_survives_a_lost_rename(tmp_path):
    """A complete instance whose rename is undone (as a power loss may) comes back at restart."""
    spool = Spool(tmp_path)
    spool.prepare()
    ds = make_ct()
    meta = FileMeta(
        sop_class_uid=ds.SOPClassUID,
        sop_instance_uid=ds.SOPInstanceUID,
        transfer_syntax="1.2.840.10008.1.2.1",
        implementation_class_uid="1.2.3",
        implementation_version_name="TEST",
        calling_ae_title="STORESCU",
        called_ae_title="CLARA",
        sending_address="dicom://10.0.0.7:4242",
    )
    receiver = InstanceReceiver(spool, meta)
    data = encode(ds)
    receiver.write(data[:100])
    receiver.write(data[100:])
    instance = asyncio.run(receiver.commit(spool.association_dir("CLARA", "a1"), "10.0.0.7", "a1", (), inline=True))
    receiver.place()
    os.replace(instance.path, spool.incoming / "lost.part")
    (recovered,) = Spool(tmp_path).scan()
    assert recovered.path == instance.path
    assert instance.path.read_bytes().endswith(data)


def test_scan_reads_a_deflated_instance_from_its_meta_and_first_bytes(tmp_path):
    from tests.dicom_adapter.storage.test_instance_file import _deflated_file

    spool = Spool(tmp_path, fsync=False)
    spool.prepare()
    ds = make_ct(size=2000)
    directory = spool.association_dir("CLARA", "a1")
    directory.mkdir(parents=True)
    path = _deflated_file(directory / f"{ds.SOPInstanceUID}.dcm", ds)
    (instance,) = spool.scan()
    assert instance.path == path and instance.transfer_syntax == "1.2.840.10008.1.2.1.99"
    assert (instance.sop_instance_uid, instance.called_ae_title, instance.calling_ae_title) == (
        ds.SOPInstanceUID,
        "CLARA",
        "SCU",
    )
    assert instance.calling_host == "127.0.0.1"


def test_instance_file_names_never_collide():
    """A valid UID is its own file name; anything else (files of earlier releases) a hash of it."""
    assert instance_file_name("1.2.3") == "1.2.3.dcm"
    names = {instance_file_name(uid) for uid in ("X/9", "X_9", "1.02", "1.2.3", "1.2.3.")}
    assert len(names) == 5
    assert all(len(instance_file_name(uid)) < 80 for uid in ("1." + "2" * 300, "../../x"))
    assert instance_file_name("../../x").startswith("_") and "/" not in instance_file_name("../../x")


def test_spool_directories_are_0700_and_files_0600_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        spool = Spool(tmp_path / "home" / "spool")
        spool.prepare()
        spool.spares.fill()
        _, path = _write(spool, called="CLARA", association="a1")
    finally:
        os.umask(previous)
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "home").rglob("*")}
    assert {m for p, m in modes.items() if p.is_dir()} == {0o700}
    assert {m for p, m in modes.items() if p.is_file()} == {0o600}
    assert path in modes and len([p for p in modes if p.is_file()]) > 1  # spares too


def test_default_spool_is_under_clara_home(clara_home):
    assert Spool.from_settings(StorageSettings()).root == clara_home / "dicom" / "spool"
