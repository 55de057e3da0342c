from __future__ import annotations

import pytest

from dicom_adapter.dicom.errors import TruncatedDataSetError
from dicom_adapter.scp.checks import check_data_set, check_identity
from dicom_adapter.scp.errors import InstanceMismatchError, InvalidUidError
from dicom_adapter.storage.errors import DataSetMismatchError
from dicom_adapter.storage.instance_file import Header, read_header
from tests.dicom_adapter.scp.datasets import encode, make_ct

EXPLICIT = "1.2.840.10008.1.2.1"


def test_check_identity_compares_the_data_set_with_the_command():
    header = Header("1.2.3", "1.2.4", "1.2.5", "1.2.840.10008.5.1.4.1.1.2")
    check_identity(header, "1.2.840.10008.5.1.4.1.1.2", "1.2.5")
    with pytest.raises(DataSetMismatchError, match="SOP Class UID is not the command's"):
        check_identity(header, "1.2.840.10008.5.1.4.1.1.4", "1.2.5")
    with pytest.raises(DataSetMismatchError, match="missing SOP Class UID"):
        check_identity(Header("1.2.3", "1.2.4", "1.2.5", ""), "1.2.840.10008.5.1.4.1.1.2", "1.2.5")
    with pytest.raises(InstanceMismatchError, match="SOP Instance UID is not the command's"):
        check_identity(header, "1.2.840.10008.5.1.4.1.1.2", "1.2.6")
    with pytest.raises(InvalidUidError, match="Series Instance UID: 70 characters long"):
        check_identity(Header("1.2.3", "1." * 35, "1.2.5", header.sop_class_uid), header.sop_class_uid, "1.2.5")


def test_the_fast_header_says_how_far_the_data_set_was_walked():
    data = encode(make_ct(size=256))
    header = read_header(data[:4096], False, EXPLICIT)
    assert header is not None and 0 < header.walked < 4096
    check_data_set(data[:4096], len(data), lambda o, c: data[o : o + c], EXPLICIT, header.walked)
    with pytest.raises(TruncatedDataSetError):
        check_data_set(data[:4096], len(data) - 1, lambda o, c: data[o : min(o + c, len(data) - 1)], EXPLICIT)


def test_check_data_set_leaves_deflated_data_sets_to_the_inflation_check():
    check_data_set(b"anything", 1000, lambda o, c: b"", "1.2.840.10008.1.2.1.99")
