from __future__ import annotations

import struct

import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from dicom_adapter.dicom.elements import check_complete, top_level_scan, top_level_values
from dicom_adapter.dicom.errors import DataSetError, TruncatedDataSetError
from dicom_adapter.storage.instance_file import (
    SERIES_INSTANCE_UID,
    SOP_INSTANCE_UID,
    STUDY_INSTANCE_UID,
    read_header,
)
from tests.dicom_adapter.scp.datasets import encode, make_ct

WANTED = {STUDY_INSTANCE_UID, SERIES_INSTANCE_UID, SOP_INSTANCE_UID}


def with_sequences() -> Dataset:
    """A CT with nested sequences of undefined length before the study UID (group 0008 < 0020)."""
    ds = make_ct()
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3.4"
    nested = Dataset()
    nested.CodeValue = "X"
    inner.PurposeOfReferenceCodeSequence = Sequence([nested])
    ds.ReferencedImageSequence = Sequence([inner, Dataset()])
    for element in (ds["ReferencedImageSequence"], inner["PurposeOfReferenceCodeSequence"]):
        element.is_undefined_length = True
    return ds


@pytest.mark.parametrize("implicit", [False, True])
def test_walk_skips_undefined_length_sequences(implicit):
    ds = with_sequences()
    data = encode(ds, implicit=implicit)
    values = top_level_values(data, implicit, WANTED, SERIES_INSTANCE_UID)
    assert values is not None
    assert values[STUDY_INSTANCE_UID].rstrip(b"\0").decode() == ds.StudyInstanceUID
    assert values[SOP_INSTANCE_UID].rstrip(b"\0").decode() == ds.SOPInstanceUID
    syntax = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    header = read_header(data, True, syntax)
    assert header is not None and header.series_instance_uid == ds.SeriesInstanceUID


def test_walk_is_unsure_about_cut_or_broken_data():
    data = encode(make_ct())
    assert top_level_values(data[:20], False, WANTED, SERIES_INSTANCE_UID) is None
    assert top_level_values(b"\x08\x00\x18\x00\x01\x02\xff\xff", False, WANTED, SERIES_INSTANCE_UID) is None
    assert top_level_values(b"", False, WANTED, SERIES_INSTANCE_UID) is None


# ---------------------------------------------------------------- check_complete


def _boundaries(ds: Dataset, implicit: bool) -> set[int]:
    """Offsets where a top-level element ends: cutting a data set there leaves a shorter, whole one."""
    ends, offset = {0}, 0
    for element in ds:
        single = Dataset()
        single.add(element)
        offset += len(encode(single, implicit=implicit))
        ends.add(offset)
    return ends


def _check(data: bytes, head: int = 1 << 16, implicit: bool = False) -> None:
    check_complete(data[:head], len(data), lambda offset, count: data[offset : offset + count], implicit)


@pytest.mark.parametrize("implicit", [False, True])
def test_check_complete_refuses_every_cut_but_at_an_element_boundary(implicit):
    """Cut anywhere inside an element (nested undefined-length sequences included), the data set is refused."""
    ds = with_sequences()
    ds.PixelData = bytes(64)  # keep it small: every cut is tried
    data = encode(ds, implicit=implicit)
    boundaries = _boundaries(ds, implicit)
    assert len(data) in boundaries
    for cut in range(len(data) + 1):
        if cut in boundaries:
            _check(data[:cut], implicit=implicit)
        else:
            with pytest.raises(TruncatedDataSetError):
                _check(data[:cut], implicit=implicit)


@pytest.mark.parametrize("head", [0, 7, 100, 4096])
def test_check_complete_reads_past_the_head_only_what_it_needs(head):
    """The same verdicts when most of the data set must be read back from the file, window by window."""
    ds = make_ct(size=256)
    ds.add_new(0x00291010, "OB", bytes(40_000))  # a header element longer than a read window
    data = encode(ds)
    reads: list[int] = []

    def read(offset: int, count: int) -> bytes:
        reads.append(offset)
        return data[offset : offset + count]

    check_complete(data[:head], len(data), read)
    assert len(reads) <= 4  # element headers only, not the 131 KB of pixel data
    with pytest.raises(TruncatedDataSetError, match=r"element \(7FE0,0010\) is 5120 bytes longer"):
        short = data[:-5120]
        check_complete(short[:head], len(short), lambda o, c: short[o : o + c])


def test_check_complete_walks_encapsulated_pixel_data_and_big_endian():
    fragments = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, n) + bytes(n) for n in (0, 1000, 2000))
    pixel = struct.pack("<HH2s2xI", 0x7FE0, 0x0010, b"OB", 0xFFFFFFFF) + fragments
    data = encode(make_ct(size=2))[: -8 - 12] + pixel + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)  # 2x2x2 pixels
    check_complete(data, len(data))
    with pytest.raises(TruncatedDataSetError, match="inside a sequence of undefined length"):
        check_complete(data[:-8], len(data) - 8)
    with pytest.raises(TruncatedDataSetError, match=r"element \(FFFE,E000\) is 10 bytes longer"):
        check_complete(data[:-18], len(data) - 18)
    big = DicomBytesIO()
    big.is_little_endian, big.is_implicit_VR = False, False
    write_dataset(big, with_sequences())
    check_complete(big.getvalue(), len(big.getvalue()), little_endian=False)
    with pytest.raises(TruncatedDataSetError):
        check_complete(big.getvalue()[:-2], len(big.getvalue()) - 2, little_endian=False)


def test_check_complete_follows_the_data_sets_own_vr_encoding_like_pydicom():
    """Explicit VR sent on an implicit VR context (a known sender bug) is read as explicit, as pydicom does."""
    data = encode(make_ct())
    check_complete(data, len(data), implicit=True)
    implicit = encode(make_ct(), implicit=True)
    check_complete(implicit, len(implicit), implicit=False)


def test_check_complete_refuses_a_sequence_holding_no_items():
    sequence = struct.pack("<HH2s2xI", 0x0008, 0x1140, b"SQ", 0xFFFFFFFF)
    element = sequence + struct.pack("<HH2sH", 0x0008, 0x0018, b"UI", 0)  # an element, not an item
    with pytest.raises(DataSetError, match=r"element \(0008,0018\) where a sequence item belongs"):
        check_complete(element, len(element))


def test_top_level_scan_says_where_it_stopped():
    ds = make_ct()
    data = encode(ds)
    scanned = top_level_scan(data, False, WANTED, SERIES_INSTANCE_UID)
    assert scanned is not None
    values, stopped = scanned
    assert set(values) == WANTED
    after = Dataset()
    for element in ds:
        if element.tag > SERIES_INSTANCE_UID:
            after.add(element)
    assert data[stopped:] == encode(after)
