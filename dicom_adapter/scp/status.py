"""The one exception -> C-STORE status mapping of the SCP; the statuses themselves are named in
`dicom_adapter.dicom.status` (PS3.4 Annex B, PS3.7 Annex C).
"""

from __future__ import annotations

from dicom_adapter.dicom.errors import DataSetError, TruncatedDataSetError
from dicom_adapter.dicom.status import Status
from dicom_adapter.scp.errors import (
    InstanceMismatchError,
    InvalidUidError,
    OperationRefusedError,
    SopClassRefusedError,
)
from dicom_adapter.storage.errors import (
    DataSetMismatchError,
    OutOfResourcesError,
    StoreError,
    UndecodableDataError,
)

# What a failed C-STORE may raise: a refusal or storage failure, or the element walk's verdict (scp/checks.py).
StoreFailure = (StoreError, DataSetError)


def store_status(exc: StoreError | DataSetError) -> Status:
    """The C-STORE status that answers a failed store (the only place this mapping lives)."""
    if isinstance(exc, OutOfResourcesError):
        return Status.OUT_OF_RESOURCES
    if isinstance(exc, DataSetMismatchError):
        return Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    if isinstance(exc, TruncatedDataSetError):
        return Status.DATA_SET_TRUNCATED
    if isinstance(exc, (UndecodableDataError, DataSetError)):
        return Status.CANNOT_UNDERSTAND
    if isinstance(exc, InvalidUidError):
        return Status.INVALID_UID
    if isinstance(exc, InstanceMismatchError):
        return Status.SOP_INSTANCE_UID_MISMATCH
    if isinstance(exc, SopClassRefusedError):
        return Status.SOP_CLASS_NOT_SUPPORTED
    if isinstance(exc, OperationRefusedError):
        return Status.UNRECOGNIZED_OPERATION
    return Status.PROCESSING_FAILURE
