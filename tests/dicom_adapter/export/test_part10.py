"""Reading a Part 10 file's meta header without parsing the data set."""

from __future__ import annotations

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from dicom_adapter.export.errors import UndecodableFileError
from dicom_adapter.export.part10 import read_part10
from tests.support.instances import make_ct


def test_read_part10_finds_uids_syntax_and_data_set_offset(tmp_path):
    path = make_ct(tmp_path / "a.dcm", size=16)
    part = read_part10(path)
    assert part.sop_class_uid == CTImageStorage
    assert part.transfer_syntax == ExplicitVRLittleEndian
    assert part.dataset_bytes()[:4] == b"\x08\x00\x05\x00" or part.dataset_bytes()[:2] == b"\x08\x00"


def test_read_part10_rejects_a_file_that_is_not_dicom(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("not an image")
    with pytest.raises(UndecodableFileError, match="report.txt: not a DICOM Part-10 file"):
        read_part10(path)


def test_read_part10_rejects_meta_without_transfer_syntax(tmp_path):
    path = tmp_path / "bad.dcm"
    element = b"\x02\x00\x02\x00UI\x04\x001.2\x00"
    path.write_bytes(bytes(128) + b"DICM" + element + b"\x08\x00\x16\x00UI\x04\x001.2\x00")
    with pytest.raises(UndecodableFileError, match="lacks MediaStorageSOPInstanceUID, TransferSyntaxUID"):
        read_part10(path)
