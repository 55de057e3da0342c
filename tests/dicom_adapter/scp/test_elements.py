from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_adapter.scp.elements import top_level_values
from dicom_adapter.scp.part10 import (
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
