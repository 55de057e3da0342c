"""PDU framing (PS3.8 9.3): the 6-byte header, the PDV items of a P-DATA-TF, and the small PDUs.

Every encoder returns one `bytes` (or, for data sets, the header to put before a fragment) so a whole
PDU leaves in one `transport.write`: no Nagle stall, no per-PDU syscall. The A-ASSOCIATE PDUs and
their items are in acse.py and items.py; the streaming reader of an established association in stream.py.
"""

from __future__ import annotations

import asyncio
import struct
from enum import IntEnum

from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.status import AbortReason, AbortSource

PDU_HEADER = struct.Struct(">BxI")  # type, reserved, length
PDV_HEADER = struct.Struct(">IBB")  # item length, presentation context id, message control header
_PDU_AND_PDV = struct.Struct(">BxIIBB")  # a P-DATA-TF holding one PDV: both headers in one pack
_LENGTH = struct.Struct(">I")
# Message control header bits (PS3.8 E.2).
COMMAND = 0x01
LAST = 0x02


class PduType(IntEnum):
    """PDU types (PS3.8 Table 9-11)."""

    A_ASSOCIATE_RQ = 0x01
    A_ASSOCIATE_AC = 0x02
    A_ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    A_RELEASE_RQ = 0x05
    A_RELEASE_RP = 0x06
    A_ABORT = 0x07


def encode_pdu(pdu_type: int, body: bytes) -> bytes:
    return PDU_HEADER.pack(pdu_type, len(body)) + body


def pdv_header(length: int, context_id: int, control: int) -> bytes:
    """P-DATA-TF header plus the header of its one PDV; `length` is the fragment's length."""
    return _PDU_AND_PDV.pack(PduType.P_DATA_TF, length + 6, length + 2, context_id, control)


def encode_p_data(context_id: int, data: bytes, command: bool = True, last: bool = True) -> bytes:
    """One P-DATA-TF holding one PDV (commands are small: one fragment)."""
    control = (COMMAND if command else 0) | (LAST if last else 0)
    return pdv_header(len(data), context_id, control) + data


def iter_pdvs(body: bytes) -> list[tuple[int, int, bytes]]:
    """(context id, message control header, fragment) of each PDV in a whole P-DATA-TF body."""
    pdvs: list[tuple[int, int, bytes]] = []
    offset, end = 0, len(body)
    while offset < end:
        (length,) = _LENGTH.unpack_from(body, offset) if offset + 6 <= end else (0,)
        if length < 2 or offset + 4 + length > end:  # PS3.8 9.3.5.1: id and header, all inside the PDU
            message = f"malformed P-DATA-TF: PDV at byte {offset} does not fit its PDU"
            raise ProtocolError(message, AbortReason.INVALID_PDU_PARAMETER_VALUE)
        pdvs.append((body[offset + 4], body[offset + 5], body[offset + 6 : offset + 4 + length]))
        offset += 4 + length
    return pdvs


def encode_associate_rj(result: int, source: int, reason: int) -> bytes:
    return encode_pdu(PduType.A_ASSOCIATE_RJ, bytes((0, result, source, reason)))


def decode_associate_rj(body: bytes) -> tuple[int, int, int] | None:
    """(result, source, reason) of an A-ASSOCIATE-RJ body; None when it is too short to hold them."""
    return (body[1], body[2], body[3]) if len(body) >= 4 else None


def encode_release_rq() -> bytes:
    return encode_pdu(PduType.A_RELEASE_RQ, bytes(4))


def encode_release_rp() -> bytes:
    return encode_pdu(PduType.A_RELEASE_RP, bytes(4))


def encode_abort(source: int = AbortSource.SERVICE_PROVIDER, reason: int = AbortReason.NOT_SPECIFIED) -> bytes:
    return encode_pdu(PduType.A_ABORT, bytes((0, 0, source, reason)))


def unexpected_pdu(pdu_type: int, where: str) -> ProtocolError:
    """The error for a PDU that has no place `where` (known type) or no meaning at all (unknown type)."""
    if pdu_type in PduType._value2member_map_:
        return ProtocolError(f"unexpected {PduType(pdu_type).name} {where}", AbortReason.UNEXPECTED_PDU)
    return ProtocolError(f"unrecognized PDU type 0x{pdu_type:02x} {where}", AbortReason.UNRECOGNIZED_PDU)


async def read_pdu(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(type, body) of the next whole PDU; for the few PDUs read outside the P-DATA stream."""
    pdu_type, length = PDU_HEADER.unpack(await reader.readexactly(PDU_HEADER.size))
    return pdu_type, await reader.readexactly(length)
