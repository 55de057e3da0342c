"""Errors of the SCP; each is mapped once, to an A-ABORT or to a C-STORE status (`status.py`).

ProtocolError, PduTooLargeError  malformed or unexpected PDU -> A-ABORT, association ends (raised by
                                the DICOM layer, dicom_adapter.dicom.errors; imported here for the SCP)
ScpError
└── StoreError                  one C-STORE failed; the association continues
    ├── OutOfResourcesError     disk full or below the watermark          -> 0xA700
    ├── DataSetMismatchError    Study/Series/SOP Instance UID or SOP Class UID missing,
    │                           or SOP Class UID not the command's          -> 0xA900
    ├── UndecodableDataError    data set cannot be parsed                  -> 0xC000
    │   └── TruncatedDataSetError  an element runs past the end of the data set -> 0xC001
    ├── InvalidUidError         a UID the spool relies on breaks PS3.5 9.1 -> 0xC002
    ├── InstanceMismatchError   SOP Instance UID not the command's         -> 0xC003
    ├── SopClassRefusedError    SOP class not accepted by the called AE    -> 0x0122
    ├── OperationRefusedError   a DIMSE service other than C-STORE/C-ECHO  -> 0x0211
    └── StoreProcessingError    anything else while storing                -> 0x0110
"""

from __future__ import annotations

from dicom_adapter.dicom.errors import PduTooLargeError, ProtocolError

__all__ = [
    "DataSetMismatchError",
    "InstanceMismatchError",
    "InvalidUidError",
    "OperationRefusedError",
    "OutOfResourcesError",
    "PduTooLargeError",
    "ProtocolError",
    "ScpError",
    "SopClassRefusedError",
    "StoreError",
    "StoreProcessingError",
    "TruncatedDataSetError",
    "UndecodableDataError",
]


class ScpError(Exception):
    """Base of every SCP error."""


class StoreError(ScpError):
    """One C-STORE could not be stored; answered with a failure status, the association goes on."""


class OutOfResourcesError(StoreError):
    """The disk is full or free space is below the configured watermark."""


class DataSetMismatchError(StoreError):
    """A required attribute (Study, Series, SOP Instance or SOP Class UID) is missing from the data set,
    or its SOP Class UID is not the command's Affected SOP Class UID."""


class UndecodableDataError(StoreError):
    """The data set could not be decoded in the negotiated transfer syntax."""


class TruncatedDataSetError(UndecodableDataError):
    """An element's declared length (or an undefined-length sequence) runs past the end of the data set."""


class InvalidUidError(StoreError):
    """The Affected SOP Class / Instance UID, or the data set's Study / Series UID, is not a valid UID."""


class InstanceMismatchError(StoreError):
    """The data set's SOP Instance UID (0008,0018) is not the command's Affected SOP Instance UID."""


class StoreProcessingError(StoreError):
    """Any other failure while writing or committing the instance."""


class SopClassRefusedError(StoreError):
    """The called AE does not take this SOP class (its allowed_sop_classes leave it out)."""


class OperationRefusedError(StoreError):
    """A DIMSE operation this SCP does not perform (C-FIND on a storage context, ...)."""
