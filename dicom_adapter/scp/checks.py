"""What a received data set must pass before the SCP acknowledges it: its elements end exactly at its
last byte, and it is the instance its C-STORE-RQ announced.

The element walk's own errors (`dicom.errors.DataSetError`, `TruncatedDataSetError` when cut short)
leave here unchanged: `status.py` answers them with their C-STORE statuses.
"""

from __future__ import annotations

from dicom_adapter.dicom.elements import ReadAt, check_complete
from dicom_adapter.dicom.uids import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    loose_uid_problem,
)
from dicom_adapter.scp.errors import InstanceMismatchError, InvalidUidError
from dicom_adapter.storage.errors import DataSetMismatchError
from dicom_adapter.storage.instance_file import Header


def check_identity(header: Header, sop_class_uid: str, sop_instance_uid: str) -> None:
    """The data set is the instance the C-STORE-RQ announced: its SOP Class and SOP Instance UIDs are the
    command's (whose syntax `storing` checked), and its Study / Series UIDs can name folders.

    Why: the spool file is named after the command's UID; a data set that says otherwise would be filed
    under another instance's name. The comments name no UID: instance UIDs identify a patient's images.
    """
    if not header.sop_class_uid:
        raise DataSetMismatchError("missing SOP Class UID")
    if header.sop_class_uid != sop_class_uid:
        raise DataSetMismatchError("SOP Class UID is not the command's")
    if header.sop_instance_uid != sop_instance_uid:
        raise InstanceMismatchError("SOP Instance UID is not the command's")
    for name, uid in (("Study", header.study_instance_uid), ("Series", header.series_instance_uid)):
        problem = loose_uid_problem(uid)
        if problem is not None:
            raise InvalidUidError(f"{name} Instance UID: {problem}")


def check_data_set(head: bytes, size: int, read: ReadAt, transfer_syntax: str, start: int = 0) -> None:
    """Refuse a data set whose elements do not end exactly at its last byte (`elements.check_complete`):
    dicom.errors.TruncatedDataSetError, or DataSetError for a malformed sequence.

    A deflated data set is not walked: reading its header inflated all of it already, and a stream cut
    short is refused there; walking the inflated elements would cost a second inflation."""
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        return
    check_complete(
        head,
        size,
        read,
        implicit=transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN,
        little_endian=transfer_syntax != EXPLICIT_VR_BIG_ENDIAN,
        start=start,
    )
