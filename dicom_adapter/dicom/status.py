"""Named codes of both directions: DIMSE statuses (PS3.4 B.2.3, PS3.7 C), A-ASSOCIATE-RJ and A-ABORT
fields (PS3.8 9.3.4, 9.3.8), and how a status reads (success, warning, its name for a log line).
"""

from __future__ import annotations

from enum import IntEnum

# The status class is the top hex digit: every Bxxx is a warning (PS3.7 C.4).
_CLASS_MASK = 0xF000
_WARNING_CLASS = 0xB000


class Status(IntEnum):
    """DIMSE statuses the SCP sends (PS3.4 B.2.3, PS3.7 C)."""

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


class StoreStatus(IntEnum):
    """C-STORE statuses a destination answers, named for logs (PS3.4 Annex B.2.3, PS3.7 Annex C)."""

    SUCCESS = 0x0000
    # Warnings: the instance was stored, possibly altered. 0001 is PS3.7 C.4's general warning.
    WARNING = 0x0001
    COERCION_OF_DATA_ELEMENTS = 0xB000
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007
    ELEMENTS_DISCARDED = 0xB006
    # Failures.
    REFUSED_OUT_OF_RESOURCES = 0xA700
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    CANNOT_UNDERSTAND = 0xC000
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NOT_AUTHORIZED = 0x0124
    DUPLICATE_INVOCATION = 0x0210
    PROCESSING_FAILURE = 0x0110


def status_name(status: int) -> str:
    try:
        return StoreStatus(status).name.lower()
    except ValueError:
        return f"0x{status:04X}"


def is_success(status: int) -> bool:
    return status == StoreStatus.SUCCESS


def is_warning(status: int) -> bool:
    """PS3.7 C.4: 0001 and Bxxx are warnings; the instance was stored."""
    return status == StoreStatus.WARNING or (status & _CLASS_MASK) == _WARNING_CLASS


def is_accepted(status: int) -> bool:
    return is_success(status) or is_warning(status)


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


# (source, reason) -> words, for an A-ASSOCIATE-RJ a peer sends us (PS3.8 9.3.4).
_REJECT_WORDS: dict[tuple[int, int], str] = {
    (RejectSource.SERVICE_USER, 2): "application context name not supported",
    (RejectSource.SERVICE_USER, RejectReason.CALLING_AE_NOT_RECOGNIZED): "calling AE title not recognized",
    (RejectSource.SERVICE_USER, RejectReason.CALLED_AE_NOT_RECOGNIZED): "called AE title not recognized",
    (RejectSource.SERVICE_PROVIDER_ACSE, 1): "protocol version not supported",
    (RejectSource.SERVICE_PROVIDER_PRESENTATION, RejectReason.TEMPORARY_CONGESTION): "temporary congestion",
    (RejectSource.SERVICE_PROVIDER_PRESENTATION, RejectReason.LOCAL_LIMIT_EXCEEDED): "local limit exceeded",
}


def describe_rejection(result: int, source: int, reason: int) -> str:
    """A readable reason for an A-ASSOCIATE-RJ's three fields."""
    kind = "permanent" if result == RejectResult.PERMANENT else "transient"
    words = _REJECT_WORDS.get((source, reason), f"source {source} reason {reason}")
    return f"association rejected ({kind}): {words}"


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
