from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from dicom_adapter.scp.errors import DataSetMismatchError, UndecodableDataError
from dicom_adapter.scp.part10 import FileMeta, encode_file_meta, parse_tag, read_header
from tests.dicom_adapter.scp.datasets import encode, make_ct

EXPLICIT = "1.2.840.10008.1.2.1"


def _big_endian(ds) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = False, False
    write_dataset(buffer, ds)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("syntax", "encoder"),
    [
        (EXPLICIT, encode),
        ("1.2.840.10008.1.2", lambda ds: encode(ds, implicit=True)),
        ("1.2.840.10008.1.2.2", _big_endian),
        ("1.2.840.10008.1.2.4.70", encode),  # compressed syntaxes encode the header as explicit VR LE
    ],
)
def test_read_header_in_each_encoding(syntax, encoder):
    ds = make_ct()
    header = read_header(encoder(ds), True, syntax, (parse_tag("0008,0050"),))
    assert header is not None
    assert (header.study_instance_uid, header.series_instance_uid) == (ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert header.sop_instance_uid == ds.SOPInstanceUID
    assert header.extra_tags == {"0008,0050": "ACC1"}


def test_read_header_stops_before_pixel_data_in_a_cut_head():
    data = encode(make_ct(size=256))
    assert read_header(data[:2000], False, EXPLICIT) is not None


def test_read_header_defers_to_the_file_when_the_head_ends_too_early():
    data = encode(make_ct())
    assert read_header(data[:100], False, EXPLICIT) is None
    assert read_header(data, True, "1.2.840.10008.1.2.1.99") is None  # deflated: only the file tells


def test_read_header_names_missing_uids():
    ds = make_ct()
    del ds.SeriesInstanceUID
    with pytest.raises(DataSetMismatchError, match="missing Series UID"):
        read_header(encode(ds), True, EXPLICIT)


def test_read_header_refuses_a_value_cut_short():
    with pytest.raises(UndecodableDataError):
        read_header(b"\x08\x00\x18\x00UI\xff\x7fgarbage", True, EXPLICIT)


def test_file_meta_is_read_back_by_pydicom(tmp_path):
    ds = make_ct()
    meta = FileMeta(
        ds.SOPClassUID, ds.SOPInstanceUID, EXPLICIT, "1.2.3.4", "OPENCLARA_1", "SCU", "CLARA", "dicom://h:1"
    )
    path = tmp_path / "x.dcm"
    path.write_bytes(encode_file_meta(meta) + encode(ds))
    read = dcmread(path)
    assert read.file_meta.TransferSyntaxUID == EXPLICIT
    assert read.file_meta.ImplementationVersionName == "OPENCLARA_1"
    assert read.file_meta.ReceivingApplicationEntityTitle == "CLARA"
    assert read.SOPInstanceUID == ds.SOPInstanceUID


def test_parse_tag_accepts_parentheses():
    assert parse_tag("(0020,000D)") == 0x0020000D
