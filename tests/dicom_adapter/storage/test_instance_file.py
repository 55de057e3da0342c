from __future__ import annotations

import tracemalloc
import zlib

import pytest
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from dicom_adapter.storage.errors import DataSetMismatchError, StoreError, UndecodableDataError
from dicom_adapter.storage.instance_file import (
    FileMeta,
    encode_file_meta,
    parse_tag,
    read_header,
    read_header_file,
)
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


DEFLATED = "1.2.840.10008.1.2.1.99"


def _deflated_file(path, ds, cut: int = 0):
    """A spooled file as the SCP writes it for a deflated data set: our meta + raw deflate."""
    meta = FileMeta(
        sop_class_uid=ds.SOPClassUID,
        sop_instance_uid=ds.SOPInstanceUID,
        transfer_syntax=DEFLATED,
        implementation_class_uid="1.2.3",
        implementation_version_name="TEST",
        calling_ae_title="SCU",
        called_ae_title="CLARA",
        sending_address="dicom://127.0.0.1:4242",
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = compressor.compress(encode(ds)) + compressor.flush()
    path.write_bytes(encode_file_meta(meta) + data[: len(data) - cut])
    return path


def test_a_huge_deflated_instance_is_read_without_inflating_it(tmp_path):
    """200 MB of pixels deflate to ~200 KB; only the first 64 KB are inflated to find the UIDs."""
    ds = make_ct(size=10000)  # 10000 x 10000 x 2 bytes
    path = _deflated_file(tmp_path / "big.dcm", ds)
    tracemalloc.start()
    try:
        header = read_header_file(path, (parse_tag("0008,0050"),))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (header.sop_instance_uid, header.study_instance_uid) == (ds.SOPInstanceUID, ds.StudyInstanceUID)
    assert header.extra_tags == {"0008,0050": "ACC1"}
    assert peak < 8 * 1024 * 1024, peak
    assert dcmread(path).SOPInstanceUID == ds.SOPInstanceUID  # and pydicom agrees the file is sound


def test_deflated_uids_beyond_the_inflate_limit_are_refused_with_a_reason(tmp_path):
    ds = make_ct()
    ds.add_new(0x00110010, "LO", "BIG")
    ds.add_new(0x00111000, "OB", bytes(20 * 1024 * 1024))  # private data before the study UID
    with pytest.raises(UndecodableDataError, match="UIDs not found in the first 16 MB"):
        read_header_file(_deflated_file(tmp_path / "late.dcm", ds), ())


def test_a_cut_deflated_stream_fails_the_instance(tmp_path):
    path = _deflated_file(tmp_path / "cut.dcm", make_ct(size=256), cut=200)  # UIDs intact, end marker gone
    with pytest.raises(UndecodableDataError, match="cut short"):
        read_header_file(path, ())
    big = _deflated_file(tmp_path / "big-cut.dcm", make_ct(size=4000), cut=100)  # cut far beyond the head
    with pytest.raises(UndecodableDataError, match="cut short"):
        read_header_file(big, ())
    path.write_bytes(path.read_bytes()[:600] + b"\xff" * 100)  # not deflate at all
    with pytest.raises(StoreError, match="cannot decode data set"):
        read_header_file(path, ())
