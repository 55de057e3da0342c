"""DIMSE command sets (PS3.7 9.3, 10.3, Annex E): implicit VR little endian, encoded and decoded by hand.

A command set is a flat run of group 0000 elements, so a small codec is faster and simpler than a
pydicom Dataset round trip on the per-instance hot path. One decoder reads requests and responses;
each message we send has one encoder.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import NamedTuple

from dicom_adapter.dicom.elements import IMPLICIT_HEADER as _ELEMENT  # a command set is implicit VR LE
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.status import AbortReason
from dicom_adapter.dicom.uids import VERIFICATION

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
DATA_SET_FOLLOWS = 0x0000  # any value but NO_DATA_SET means one follows; we send this one
NO_DATA_SET = 0x0101  # Command Data Set Type value meaning "no data set follows" (PS3.7 E.1-1)
MEDIUM = 0x0000  # Priority (PS3.7 E.1-1)


_NO_MESSAGE_ID = _US.pack(0)
_PRIORITY = {True: ((PRIORITY, _US.pack(MEDIUM)),), False: ()}  # C-STORE has a Priority, C-ECHO none
_DATA_SET_TYPE = {True: _US.pack(DATA_SET_FOLLOWS), False: _US.pack(NO_DATA_SET)}


class CommandField(IntEnum):
    """Command Field values (PS3.7 E.1-1) we read or write."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030


class Command(NamedTuple):
    """A decoded command set: the fields either role acts on. `status` and `message_id_being_responded_to`
    are None in a request; `message_id` is 0 in a response. A NamedTuple: built once per message on both
    hot paths, it costs a third of a frozen dataclass."""

    command_field: int
    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    has_data_set: bool
    status: int | None = None
    message_id_being_responded_to: int | None = None


def command_elements(data: bytes) -> dict[int, bytes]:
    """Values of a command set by tag; ProtocolError when an element does not fit."""
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
    """Decode a command set; a missing Command Field, or a request without Message ID, is a ProtocolError."""
    elements = command_elements(data)
    get = elements.get
    command_field = _us(get(COMMAND_FIELD), "Command Field")
    message_id = get(MESSAGE_ID)
    if message_id is None and command_field & 0x8000:  # a response (bit 15 set) carries none
        message_id = _NO_MESSAGE_ID
    data_set_type = get(COMMAND_DATA_SET_TYPE)
    status = get(STATUS)
    responded = get(MESSAGE_ID_BEING_RESPONDED_TO)
    return Command(
        command_field,
        _us(message_id, "Message ID"),
        _text(get(AFFECTED_SOP_CLASS_UID)),
        _text(get(AFFECTED_SOP_INSTANCE_UID)),
        data_set_type is not None and _us(data_set_type, "Command Data Set Type") != NO_DATA_SET,
        None if status is None else _us(status, "Status"),
        None if responded is None else _us(responded, "Message ID Being Responded To"),
    )


def _uid_value(uid: str) -> bytes:
    raw = uid.encode("ascii", "replace")  # a request's UID echoed, refused or not: never fail on it
    return raw + b"\0" if len(raw) % 2 else raw  # UI values are padded to even length with NUL


def _text_value(text: str) -> bytes:
    raw = text.encode("ascii", "replace")[:64]  # LO: at most 64 characters
    return raw + b" " if len(raw) % 2 else raw


def _encode(elements: list[tuple[int, bytes]]) -> bytes:
    # Every tag of a command set is in group 0000: the element number is the tag.
    body = b"".join([_ELEMENT.pack(0, tag, len(value)) + value for tag, value in elements])
    return _ELEMENT.pack(0, 0, 4) + _UL.pack(len(body)) + body  # (0000,0000) Command Group Length first


def encode_request(
    command_field: int, message_id: int, sop_class_uid: str, sop_instance_uid: str = "", data_set: bool = True
) -> bytes:
    """A C-STORE-RQ (data set follows, MEDIUM priority) or C-ECHO-RQ command set."""
    elements = [
        (AFFECTED_SOP_CLASS_UID, _uid_value(sop_class_uid)),
        (COMMAND_FIELD, _US.pack(command_field)),
        (MESSAGE_ID, _US.pack(message_id & 0xFFFF)),
        *_PRIORITY[command_field == CommandField.C_STORE_RQ],
        (COMMAND_DATA_SET_TYPE, _DATA_SET_TYPE[data_set]),
    ]
    if sop_instance_uid:
        elements.append((AFFECTED_SOP_INSTANCE_UID, _uid_value(sop_instance_uid)))
    return _encode(elements)


def encode_c_store_rq(message_id: int, sop_class_uid: str, sop_instance_uid: str) -> bytes:
    return encode_request(CommandField.C_STORE_RQ, message_id, sop_class_uid, sop_instance_uid)


def encode_c_echo_rq(message_id: int) -> bytes:
    return encode_request(CommandField.C_ECHO_RQ, message_id, VERIFICATION, data_set=False)


def encode_response(request: Command, status: int, error_comment: str = "") -> bytes:
    """The C-STORE-RSP or C-ECHO-RSP command set answering `request` with `status`."""
    elements = [
        (AFFECTED_SOP_CLASS_UID, _uid_value(request.affected_sop_class_uid)),
        (COMMAND_FIELD, _US.pack(request.command_field | 0x8000)),
        (MESSAGE_ID_BEING_RESPONDED_TO, _US.pack(request.message_id)),
        (COMMAND_DATA_SET_TYPE, _US.pack(NO_DATA_SET)),
        (STATUS, _US.pack(status)),
    ]
    if error_comment:
        elements.append((ERROR_COMMENT, _text_value(error_comment)))
    if request.affected_sop_instance_uid:
        elements.append((AFFECTED_SOP_INSTANCE_UID, _uid_value(request.affected_sop_instance_uid)))
    return _encode(elements)
