"""What every DICOM association of openclara shares, receiving or sending (PS3.8 §9.3): PDU framing,
PDU and item types, and the identity we announce in A-ASSOCIATE (implementation class UID and version).
"""

from __future__ import annotations

import struct
from enum import IntEnum

PDU_HEADER = struct.Struct(">BxI")  # type, reserved, length
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # the DICOM application context name (PS3.7 A.2.1)
# A UUID-derived UID (PS3.5 B.2): valid worldwide without a registered organisational root.
IMPLEMENTATION_CLASS_UID = "2.25.138500041147546795049149737397442871095"
IMPLEMENTATION_VERSION_NAME = "OPENCLARA_1"


class PduType(IntEnum):
    """PDU types (PS3.8 Table 9-11)."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


class ItemType(IntEnum):
    """Variable items and user-information sub-items of A-ASSOCIATE PDUs (PS3.8 9.3.2, PS3.7 D.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    IMPLEMENTATION_VERSION_NAME = 0x55


class ContextResult(IntEnum):
    """Presentation context result in the A-ASSOCIATE-AC (PS3.8 9.3.3.2)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4
