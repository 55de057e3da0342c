"""PS3.10 file framing: the 128-byte preamble, "DICM", and the file meta group (group 0002, always
explicit VR little endian, PS3.10 7.1), written element by element and read back with the one walker.
"""

from __future__ import annotations

import struct

from dicom_adapter.dicom.elements import EXPLICIT_HEADER, LONG_VRS, element_header

PREFIX = bytes(128) + b"DICM"
DATA_SET_PREFIX_LENGTH = len(PREFIX)  # the file meta starts here
META_GROUP = 0x0002
_LONG = struct.Struct("<HH2s2xI")  # explicit VR LE element with a 4-byte length (OB, UN, UR ...)


def encode_element(tag: int, vr: bytes, value: bytes, pad: bytes) -> bytes:
    """One explicit VR little endian element; an odd-length value gets `pad` (NUL for UI, space for text)."""
    if len(value) % 2:
        value += pad
    if vr in LONG_VRS:
        return _LONG.pack(tag >> 16, tag & 0xFFFF, vr, len(value)) + value
    return EXPLICIT_HEADER.pack(tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def has_prefix(head: bytes) -> bool:
    return len(head) >= DATA_SET_PREFIX_LENGTH and head[128:132] == b"DICM"


def meta_elements(head: bytes, complete: bool) -> tuple[dict[int, bytes], int] | None:
    """The file meta elements of `head` (a file's first bytes, prefix included) by element number, and
    the offset where the data set starts. None when `head` ends inside the meta group and is not the
    whole file (`complete`): the caller reads more and asks again."""
    elements: dict[int, bytes] = {}
    offset = DATA_SET_PREFIX_LENGTH
    while (header := element_header(head, offset)) is not None:
        tag, length, value = header
        if tag >> 16 != META_GROUP:
            return elements, offset
        elements[tag & 0xFFFF] = head[value : value + length]
        offset = value + length
    return (elements, offset) if complete else None
