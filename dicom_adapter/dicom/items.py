"""Variable items of the A-ASSOCIATE PDUs (PS3.8 9.3.2-9.3.3, PS3.7 D.3.3): the one walker over a run
of (type, reserved, 2-byte length) items, the one item encoder, and the text values items carry.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.status import AbortReason

ITEM_HEADER = struct.Struct(">BxH")  # item type, reserved, item length


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


def encode_item(item_type: int, value: bytes) -> bytes:
    return ITEM_HEADER.pack(item_type, len(value)) + value


def split_items(data: bytes, offset: int = 0, tolerant: bool = False) -> list[tuple[int, bytes]]:
    """(type, value) of each item from `offset` to the end of `data`.

    Strict (the SCP reading a request) raises ProtocolError on an item header or value that does not
    fit. Tolerant (the SCU reading a peer's answer) keeps what fits and stops: an association a peer
    accepted is worth more than a complaint about its trailing bytes."""
    items: list[tuple[int, bytes]] = []
    end = len(data)
    while offset < end:
        if offset + 4 > end:
            if tolerant:
                break
            raise ProtocolError("truncated item header", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        item_type, length = ITEM_HEADER.unpack_from(data, offset)
        offset += 4
        if offset + length > end and not tolerant:
            raise ProtocolError(f"item 0x{item_type:02x} overruns its PDU", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        items.append((item_type, data[offset : offset + length]))
        offset += length
    return items


def uid_text(value: bytes) -> str:
    """A UID item value as text: NUL or space padding dropped; not ASCII matches nothing we propose."""
    return value.decode("ascii", "replace").rstrip("\0 ").strip()


def ascii_value(text: str) -> bytes:
    """A UID or name as item bytes. UTF-8 is ASCII for every valid value; for an invalid one it sends what
    it was given (a test's misbehaving client) and leaves the refusal to the peer, instead of raising here."""
    return text.encode("utf-8")


def ae_title_field(title: str) -> bytes:
    """An AE title as the 16-byte, space-padded field of an A-ASSOCIATE-RQ."""
    return title.encode("ascii").ljust(16, b" ")[:16]
