"""C-STORE command sets (PS3.7 §9.3.1) in Implicit VR Little Endian, and the store statuses we name.

Status classes follow PS3.4 Annex B.2.3 (Storage Service Class) and PS3.7 Annex C.
"""

from __future__ import annotations

import struct
from enum import IntEnum

_ELEMENT = struct.Struct("<HHI")
# The status class is the top hex digit: every Bxxx is a warning (PS3.7 C.4).
_CLASS_MASK = 0xF000
_WARNING_CLASS = 0xB000


class CommandField(IntEnum):
    """PS3.7 §E.1 command field values used here."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001


class StoreStatus(IntEnum):
    """Named C-STORE statuses (PS3.4 Annex B.2.3, PS3.7 Annex C)."""

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


def _element(element: int, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00"  # UIDs pad with NUL to even length (PS3.5 §9.1)
    return _ELEMENT.pack(0x0000, element, len(value)) + value


def _us(value: int) -> bytes:
    return struct.pack("<H", value)


def encode_c_store_rq(message_id: int, sop_class_uid: str, sop_instance_uid: str) -> bytes:
    """The C-STORE-RQ command set, group length first."""
    body = b"".join(
        [
            _element(0x0002, sop_class_uid.encode("ascii")),  # Affected SOP Class UID
            _element(0x0100, _us(CommandField.C_STORE_RQ)),
            _element(0x0110, _us(message_id & 0xFFFF)),
            _element(0x0700, _us(0x0000)),  # priority MEDIUM
            _element(0x0800, _us(0x0000)),  # a data set follows
            _element(0x1000, sop_instance_uid.encode("ascii")),  # Affected SOP Instance UID
        ]
    )
    return _ELEMENT.pack(0x0000, 0x0000, 4) + struct.pack("<I", len(body)) + body


def decode_command(data: bytes) -> dict[int, bytes]:
    """Elements of a group-0000 command set by element number."""
    elements: dict[int, bytes] = {}
    offset = 0
    while offset + 8 <= len(data):
        _group, element, length = _ELEMENT.unpack_from(data, offset)
        elements[element] = data[offset + 8 : offset + 8 + length]
        offset += 8 + length
    return elements


def command_us(command: dict[int, bytes], element: int) -> int | None:
    value = command.get(element)
    return struct.unpack("<H", value[:2])[0] if value and len(value) >= 2 else None


def command_text(command: dict[int, bytes], element: int) -> str:
    return command.get(element, b"").rstrip(b"\x00 ").decode("ascii", errors="replace")
