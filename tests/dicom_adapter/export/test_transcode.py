"""Transcoding a file for a destination that refuses its stored syntax."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from dicom_adapter.export.errors import UndecodableFileError
from dicom_adapter.export.part10 import read_part10
from dicom_adapter.export.transcode import can_transcode, transcode
from tests.support.instances import make_ct


def test_can_transcode_only_towards_uncompressed_little_endian():
    assert can_transcode(JPEG2000Lossless, ExplicitVRLittleEndian)
    assert can_transcode(ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert not can_transcode(ExplicitVRLittleEndian, JPEG2000Lossless)
    assert not can_transcode(ExplicitVRLittleEndian, ExplicitVRLittleEndian)


@pytest.mark.parametrize("source", [JPEG2000Lossless, RLELossless])
@pytest.mark.parametrize("target", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_transcode_decodes_losslessly_and_keeps_the_instance_uid(tmp_path, source, target):
    original = make_ct(tmp_path / "plain.dcm", size=32)
    compressed = make_ct(tmp_path / "c.dcm", size=32, transfer_syntax=source)
    part = read_part10(compressed)
    data = transcode(part, target)
    dataset = read_dataset(DicomBytesIO(data), is_implicit_VR=target == ImplicitVRLittleEndian, is_little_endian=True)
    assert dataset.SOPInstanceUID == part.sop_instance_uid
    plain = read_dataset(DicomBytesIO(read_part10(original).dataset_bytes()), False, True)
    assert np.array_equal(np.frombuffer(dataset.PixelData, np.int16), np.frombuffer(plain.PixelData, np.int16))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transcode_refuses_a_corrupt_compressed_file_with_the_reason(tmp_path):
    path = make_ct(tmp_path / "c.dcm", size=32, transfer_syntax=JPEG2000Lossless)
    raw = bytearray(path.read_bytes())
    raw[-200:] = b"\x00" * 200  # damage the codestream
    path.write_bytes(bytes(raw))
    with pytest.raises(UndecodableFileError, match="cannot decode 1.2.840.10008.1.2.4.90"):
        transcode(read_part10(path), ExplicitVRLittleEndian)
