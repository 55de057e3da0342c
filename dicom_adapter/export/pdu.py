"""DICOM upper-layer PDUs the export SCU writes and reads (PS3.8 §9.3), encoded by hand.

Only what a C-STORE SCU needs: A-ASSOCIATE-RQ out, A-ASSOCIATE-AC/RJ, P-DATA-TF, A-RELEASE-RP and
A-ABORT in. Writing bytes directly lets a whole PDU go out in one `write` (no Nagle stall) and keeps
the per-instance CPU cost near zero, which pynetdicom's generic upper layer does not. A PDU the peer
sends malformed raises DestinationUnavailableError: that association is unusable, a later one may work.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dicom_adapter.export.errors import DestinationUnavailableError
from dicom_adapter.upper_layer import (
    APPLICATION_CONTEXT,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    PDU_HEADER,
    ItemType,
    PduType,
)


@dataclass(frozen=True)
class ProposedContext:
    """One presentation context we offer: an odd id, a SOP class and the transfer syntaxes we can send."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True)
class AcceptedContext:
    """The peer's answer for one presentation context."""

    context_id: int
    result: int
    transfer_syntax: str


@dataclass(frozen=True)
class AssociateAccept:
    """What we keep from an A-ASSOCIATE-AC."""

    contexts: dict[int, AcceptedContext]
    max_pdu_length: int  # the largest P-DATA-TF the peer accepts; 0 = unlimited


def _item(item_type: int, value: bytes) -> bytes:
    return struct.pack(">BxH", item_type, len(value)) + value


def _uid(uid: str) -> bytes:
    return uid.encode("ascii")


def _ae(title: str) -> bytes:
    return title.encode("ascii").ljust(16, b" ")[:16]


def encode_associate_rq(
    calling_ae_title: str, called_ae_title: str, contexts: list[ProposedContext], max_pdu_length: int
) -> bytes:
    """The whole A-ASSOCIATE-RQ PDU."""
    items = [_item(ItemType.APPLICATION_CONTEXT, _uid(APPLICATION_CONTEXT))]
    for ctx in contexts:
        sub = _item(ItemType.ABSTRACT_SYNTAX, _uid(ctx.abstract_syntax))
        sub += b"".join(_item(ItemType.TRANSFER_SYNTAX, _uid(ts)) for ts in ctx.transfer_syntaxes)
        items.append(_item(ItemType.PRESENTATION_CONTEXT_RQ, bytes([ctx.context_id, 0, 0, 0]) + sub))
    user = _item(ItemType.MAXIMUM_LENGTH, struct.pack(">I", max_pdu_length))
    user += _item(ItemType.IMPLEMENTATION_CLASS_UID, _uid(IMPLEMENTATION_CLASS_UID))
    user += _item(ItemType.IMPLEMENTATION_VERSION_NAME, IMPLEMENTATION_VERSION_NAME.encode("ascii"))
    items.append(_item(ItemType.USER_INFORMATION, user))
    body = struct.pack(">Hxx", 1) + _ae(called_ae_title) + _ae(calling_ae_title) + bytes(32) + b"".join(items)
    return PDU_HEADER.pack(PduType.A_ASSOCIATE_RQ, len(body)) + body


def _iter_items(data: bytes, offset: int) -> list[tuple[int, bytes]]:
    items: list[tuple[int, bytes]] = []
    while offset + 4 <= len(data):
        item_type, length = struct.unpack_from(">BxH", data, offset)
        items.append((item_type, data[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return items


def _accepted_context(value: bytes) -> AcceptedContext:
    if len(value) < 4:
        raise DestinationUnavailableError("malformed A-ASSOCIATE-AC: truncated presentation context item")
    syntax = ""
    for sub_type, sub_value in _iter_items(value, 4):
        if sub_type == ItemType.TRANSFER_SYNTAX:
            syntax = sub_value.rstrip(b"\x00 ").decode("ascii", "replace")  # not ASCII: matches no proposal
    return AcceptedContext(context_id=value[0], result=value[2], transfer_syntax=syntax)


def decode_associate_ac(body: bytes) -> AssociateAccept:
    """Parse the body (after the 6-byte header) of an A-ASSOCIATE-AC."""
    contexts: dict[int, AcceptedContext] = {}
    max_pdu = 0
    for item_type, value in _iter_items(body, 68):
        if item_type == ItemType.PRESENTATION_CONTEXT_AC:
            ctx = _accepted_context(value)
            contexts[ctx.context_id] = ctx
        elif item_type == ItemType.USER_INFORMATION:
            for sub_type, sub_value in _iter_items(value, 0):
                if sub_type == ItemType.MAXIMUM_LENGTH and len(sub_value) == 4:
                    max_pdu = struct.unpack(">I", sub_value)[0]
    return AssociateAccept(contexts=contexts, max_pdu_length=max_pdu)


def describe_associate_rj(body: bytes) -> str:
    """A readable reason for an A-ASSOCIATE-RJ (PS3.8 §9.3.4: result, source, reason)."""
    if len(body) < 4:
        return "association rejected (malformed A-ASSOCIATE-RJ)"
    result, source, reason = body[1], body[2], body[3]
    reasons = {
        (1, 2): "application context name not supported",
        (1, 3): "calling AE title not recognized",
        (1, 7): "called AE title not recognized",
        (2, 1): "protocol version not supported",
        (3, 1): "temporary congestion",
        (3, 2): "local limit exceeded",
    }
    kind = "permanent" if result == 1 else "transient"
    return f"association rejected ({kind}): {reasons.get((source, reason), f'source {source} reason {reason}')}"


def encode_release_rq() -> bytes:
    return PDU_HEADER.pack(PduType.A_RELEASE_RQ, 4) + bytes(4)


def encode_release_rp() -> bytes:
    return PDU_HEADER.pack(PduType.A_RELEASE_RP, 4) + bytes(4)


def encode_abort() -> bytes:
    return PDU_HEADER.pack(PduType.A_ABORT, 4) + bytes(4)


def pdv_header(length: int, context_id: int, control: int) -> bytes:
    """P-DATA-TF PDU header plus one PDV item header; `length` is the fragment length."""
    return PDU_HEADER.pack(PduType.P_DATA_TF, length + 6) + struct.pack(">IBB", length + 2, context_id, control)


def iter_pdvs(body: bytes) -> list[tuple[int, int, bytes]]:
    """(context id, message control header, fragment) of each PDV in a P-DATA-TF body."""
    pdvs: list[tuple[int, int, bytes]] = []
    offset = 0
    while offset < len(body):
        (length,) = struct.unpack_from(">I", body, offset) if offset + 6 <= len(body) else (0,)
        if length < 2 or offset + 4 + length > len(body):  # PS3.8 9.3.5.1: id and header, all inside the PDU
            raise DestinationUnavailableError(f"malformed P-DATA-TF: PDV at byte {offset} does not fit its PDU")
        pdvs.append((body[offset + 4], body[offset + 5], body[offset + 6 : offset + 4 + length]))
        offset += 4 + length
    return pdvs
