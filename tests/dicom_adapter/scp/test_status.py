from __future__ import annotations

import pytest

from dicom_adapter.dicom import errors as dicom_errors
from dicom_adapter.dicom.status import Status
from dicom_adapter.scp import errors
from dicom_adapter.scp.status import store_status
from dicom_adapter.storage import errors as storage_errors


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (storage_errors.OutOfResourcesError("x"), 0xA700),
        (storage_errors.DataSetMismatchError("x"), 0xA900),
        (storage_errors.UndecodableDataError("x"), 0xC000),
        (dicom_errors.DataSetError("x"), 0xC000),
        (dicom_errors.TruncatedDataSetError("x"), 0xC001),
        (errors.InvalidUidError("x"), 0xC002),
        (errors.InstanceMismatchError("x"), 0xC003),
        (errors.SopClassRefusedError("x"), 0x0122),
        (errors.OperationRefusedError("x"), 0x0211),
        (storage_errors.StoreProcessingError("x"), 0x0110),
    ],
)
def test_store_status_maps_each_error_once(error, status):
    assert store_status(error) == status


def test_statuses_are_named():
    assert Status(0xA700).name == "OUT_OF_RESOURCES"
