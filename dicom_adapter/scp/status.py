"""Named DIMSE statuses, A-ASSOCIATE-RJ / A-ABORT codes, and the one exception -> status mapping.

Values are from PS3.4 Annex B (C-STORE), PS3.7 Annex C (general statuses) and PS3.8 9.3 (ACSE).
"""

from __future__ import annotations

from enum import IntEnum

from dicom_adapter.scp.errors import (
    DataSetMismatchError,
    InstanceMismatchError,
    InvalidUidError,
    OperationRefusedError,
    OutOfResourcesError,
    SopClassRefusedError,
    StoreError,
    TruncatedDataSetError,
    UndecodableDataError,
)


class Status(IntEnum):
    """DIMSE statuses we send (PS3.4 B.2.3, PS3.7 C)."""

    SUCCESS = 0x0000
    PROCESSING_FAILURE = 0x0110  # PS3.7 C.4.2: general failure
    SOP_CLASS_NOT_SUPPORTED = 0x0122  # PS3.7 C.5.5: SOP class not accepted for this AE
    UNRECOGNIZED_OPERATION = 0x0211  # PS3.7 C.5.3: command we do not serve on this context
    OUT_OF_RESOURCES = 0xA700  # PS3.4 B.2.3: Refused: Out of Resources
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # PS3.4 B.2.3: Error: Data Set does not match SOP Class
    # PS3.4 B.2.3 gives C000-CFFF to "Error: Cannot understand" and leaves the low byte to the SCP: one
    # value per cause, so a sender's log tells them apart even without the Error Comment. (PS3.7 also
    # allows 0x0117 Invalid SOP Instance, but SCUs print it as an unknown status; every SCU knows Cxxx.)
    CANNOT_UNDERSTAND = 0xC000  # the data set does not decode in the negotiated transfer syntax
    DATA_SET_TRUNCATED = 0xC001  # an element's declared length runs past the end of the data set
    INVALID_UID = 0xC002  # Affected SOP Class/Instance UID (or Study/Series UID) breaks PS3.5 9.1
    SOP_INSTANCE_UID_MISMATCH = 0xC003  # data set's SOP Instance UID is not the Affected SOP Instance UID


class RejectResult(IntEnum):
    """A-ASSOCIATE-RJ Result field (PS3.8 9.3.4)."""

    PERMANENT = 1
    TRANSIENT = 2


class RejectSource(IntEnum):
    """A-ASSOCIATE-RJ Source field (PS3.8 9.3.4)."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReason(IntEnum):
    """A-ASSOCIATE-RJ Reason/Diag. values we use, each valid for the source named in its comment."""

    NO_REASON_GIVEN = 1  # service-user
    APPLICATION_CONTEXT_NOT_SUPPORTED = 2  # service-user
    CALLING_AE_NOT_RECOGNIZED = 3  # service-user
    CALLED_AE_NOT_RECOGNIZED = 7  # service-user
    PROTOCOL_VERSION_NOT_SUPPORTED = 2  # service-provider (ACSE)
    TEMPORARY_CONGESTION = 1  # service-provider (presentation)
    LOCAL_LIMIT_EXCEEDED = 2  # service-provider (presentation)


class AbortReason(IntEnum):
    """A-ABORT Reason/Diag. when the source is the service provider (PS3.8 9.3.8)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class AbortSource(IntEnum):
    """A-ABORT Source field (PS3.8 9.3.8)."""

    SERVICE_USER = 0
    SERVICE_PROVIDER = 2


def store_status(exc: StoreError) -> Status:
    """The C-STORE status that answers a failed store (the only place this mapping lives)."""
    if isinstance(exc, OutOfResourcesError):
        return Status.OUT_OF_RESOURCES
    if isinstance(exc, DataSetMismatchError):
        return Status.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    if isinstance(exc, TruncatedDataSetError):
        return Status.DATA_SET_TRUNCATED
    if isinstance(exc, UndecodableDataError):
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
