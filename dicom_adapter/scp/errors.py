"""Errors of the SCP; each is mapped once, to an A-ABORT or to a C-STORE status (`status.py`).

ProtocolError, PduTooLargeError  malformed or unexpected PDU -> A-ABORT, association ends
                                (dicom_adapter.dicom.errors)
DataSetError                    the element walk refused the data set (dicom_adapter.dicom.errors)
└── TruncatedDataSetError       an element runs past the end of the data set -> 0xC001; any other -> 0xC000
StoreError                      one C-STORE failed; the association continues (dicom_adapter.storage.errors)
├── OutOfResourcesError         disk full or below the watermark          -> 0xA700
├── DataSetMismatchError        Study/Series/SOP Instance UID or SOP Class UID missing,
│                               or SOP Class UID not the command's          -> 0xA900
├── UndecodableDataError        data set cannot be parsed                  -> 0xC000
├── StoreProcessingError        anything else while storing                -> 0x0110
│   (the refusals below are the SCP's own: only a C-STORE request earns them)
├── InvalidUidError             a UID the spool relies on breaks PS3.5 9.1 -> 0xC002
├── InstanceMismatchError       SOP Instance UID not the command's         -> 0xC003
├── SopClassRefusedError        SOP class not accepted by the called AE    -> 0x0122
└── OperationRefusedError       a DIMSE service other than C-STORE/C-ECHO  -> 0x0211
"""

from __future__ import annotations

from dicom_adapter.storage.errors import StoreError


class InvalidUidError(StoreError):
    """The Affected SOP Class / Instance UID, or the data set's Study / Series UID, is not a valid UID."""


class InstanceMismatchError(StoreError):
    """The data set's SOP Instance UID (0008,0018) is not the command's Affected SOP Instance UID."""


class SopClassRefusedError(StoreError):
    """The called AE does not take this SOP class (its allowed_sop_classes leave it out)."""


class OperationRefusedError(StoreError):
    """A DIMSE operation this SCP does not perform (C-FIND on a storage context, ...)."""
