"""A re-sent instance never replaces an earlier copy: that copy may belong to a closed payload whose job
end deletes it (the re-sent copy would go with it)."""

from __future__ import annotations

import os

import pytest

import dicom_adapter.storage.placement as placement
from dicom_adapter.storage.placement import is_linked_elsewhere, place_file, rename_no_replace
from dicom_adapter.storage.spool import Spool
from tests.dicom_adapter.storage.test_spool import _write


@pytest.fixture(params=["renameat2", "link"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "link":  # a file system without RENAME_NOREPLACE
        monkeypatch.setattr(placement, "_RENAMEAT2", None)
    return str(request.param)


def test_rename_no_replace_leaves_a_taken_name_alone(tmp_path, method):
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_text("new")
    target.write_text("old")
    assert rename_no_replace(source, target) is False
    assert target.read_text() == "old" and source.read_text() == "new"
    target.unlink()
    assert rename_no_replace(source, target) is True
    assert target.read_text() == "new" and not source.exists()


def test_a_taken_name_gives_the_copy_a_name_of_its_own(tmp_path, method):
    final = tmp_path / "1.2.3.dcm"
    final.write_text("first")
    source = tmp_path / "x.part"
    source.write_text("second")
    placed = place_file(source, final)
    assert placed != final and placed.name.startswith("1.2.3~") and placed.suffix == ".dcm"
    assert final.read_text() == "first" and placed.read_text() == "second"


def test_the_same_instance_sent_twice_in_one_association_keeps_two_files(tmp_path, method):
    """The first copy's payload closed before the re-send: deleting it (its job ended) leaves the second."""
    spool = Spool(tmp_path)
    spool.prepare()
    ds, first = _write(spool, sop="1.2.826.0.1.3680043.2.1125.77")
    _, second = _write(spool, sop="1.2.826.0.1.3680043.2.1125.77")
    assert first != second and first.exists() and second.exists()
    spool.remove(first)
    assert second.exists() and list(spool.files()) == [second]
    assert [i.sop_instance_uid for i in spool.scan()] == [ds.SOPInstanceUID]


def test_recovery_drops_the_incoming_name_of_a_file_already_linked_into_place(tmp_path):
    """link + unlink cut by a crash: the file has both names; the `.incoming/` one goes, the data stays."""
    spool = Spool(tmp_path)
    spool.prepare()
    _, final = _write(spool)
    incoming = spool.incoming / "left.part"
    os.link(final, incoming)
    assert is_linked_elsewhere(incoming)
    assert Spool(tmp_path).prepare() == 0
    assert not incoming.exists() and list(spool.files()) == [final]
