"""DIMSE command sets (PS3.7 9.3, 10.3): implicit VR little endian, decoded and encoded by hand.

A command set is a flat run of group 0000 elements, so a 30-line codec is faster and simpler than a
pydicom Dataset round trip on the per-instance hot path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from dicom_adapter.scp.errors import ProtocolError
from dicom_adapter.scp.status import AbortReason

_ELEMENT = struct.Struct("<HHI")  # group, element, value length
_US = struct.Struct("<H")
_UL = struct.Struct("<I")

AFFECTED_SOP_CLASS_UID = 0x00000002
COMMAND_FIELD = 0x00000100
MESSAGE_ID = 0x00000110
MESSAGE_ID_BEING_RESPONDED_TO = 0x00000120
PRIORITY = 0x00000700
COMMAND_DATA_SET_TYPE = 0x00000800
STATUS = 0x00000900
ERROR_COMMENT = 0x00000902
AFFECTED_SOP_INSTANCE_UID = 0x00001000
NO_DATA_SET = 0x0101  # Command Data Set Type value meaning "no data set follows" (PS3.7 E.1-1)


class CommandField(IntEnum):
    """Command Field values (PS3.7 E.1-1) the SCP reads or writes."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030


@dataclass(frozen=True)
class Command:
    """A decoded request command set: only the fields an SCP answers from."""

    command_field: int
    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    has_data_set: bool


def _elements(data: bytes) -> dict[int, bytes]:
    elements: dict[int, bytes] = {}
    offset, end = 0, len(data)
    while offset + 8 <= end:
        group, element, length = _ELEMENT.unpack_from(data, offset)
        offset += 8
        if offset + length > end:
            raise ProtocolError("command element overruns the command set", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        elements[(group << 16) | element] = data[offset : offset + length]
        offset += length
    if offset != end:
        raise ProtocolError("command set ends inside an element header", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    return elements


def _text(value: bytes | None) -> str:
    return value.decode("ascii", "replace").rstrip("\0 ") if value else ""


def _us(value: bytes | None, name: str) -> int:
    if value is None or len(value) != 2:
        raise ProtocolError(f"command set lacks a valid {name}", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    return int(_US.unpack(value)[0])


def decode_command(data: bytes) -> Command:
    """Decode a request command set; a missing Command Field or Message ID is a protocol error."""
    elements = _elements(data)
    data_set_type = elements.get(COMMAND_DATA_SET_TYPE)
    return Command(
        command_field=_us(elements.get(COMMAND_FIELD), "Command Field"),
        message_id=_us(elements.get(MESSAGE_ID), "Message ID"),
        affected_sop_class_uid=_text(elements.get(AFFECTED_SOP_CLASS_UID)),
        affected_sop_instance_uid=_text(elements.get(AFFECTED_SOP_INSTANCE_UID)),
        has_data_set=data_set_type is not None and _us(data_set_type, "Command Data Set Type") != NO_DATA_SET,
    )


def _uid_value(uid: str) -> bytes:
    raw = uid.encode("ascii", "replace")  # the request's UID echoed, refused or not: never fail on it
    return raw + b"\0" if len(raw) % 2 else raw  # UI values are padded to even length with NUL


def _text_value(text: str) -> bytes:
    raw = text.encode("ascii", "replace")[:64]  # LO: at most 64 characters
    return raw + b" " if len(raw) % 2 else raw


def _encode(elements: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(_ELEMENT.pack(tag >> 16, tag & 0xFFFF, len(value)) + value for tag, value in elements)
    return _ELEMENT.pack(0, 0, 4) + _UL.pack(len(body)) + body  # (0000,0000) Command Group Length first


def encode_response(request: Command, status: int, error_comment: str = "") -> bytes:
    """The C-STORE-RSP or C-ECHO-RSP command set answering `request` with `status`."""
    rsp_field = request.command_field | 0x8000  # a response's Command Field is its request's with bit 15 set
    elements = [
        (AFFECTED_SOP_CLASS_UID, _uid_value(request.affected_sop_class_uid)),
        (COMMAND_FIELD, _US.pack(rsp_field)),
        (MESSAGE_ID_BEING_RESPONDED_TO, _US.pack(request.message_id)),
        (COMMAND_DATA_SET_TYPE, _US.pack(NO_DATA_SET)),
        (STATUS, _US.pack(status)),
    ]
    if error_comment:
        elements.append((ERROR_COMMENT, _text_value(error_comment)))
    if request.affected_sop_instance_uid:
        elements.append((AFFECTED_SOP_INSTANCE_UID, _uid_value(request.affected_sop_instance_uid)))
    return _encode(elements)
