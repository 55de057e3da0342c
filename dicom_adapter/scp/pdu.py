"""Upper-layer PDUs (PS3.8 9.3): the 6-byte framing, A-ASSOCIATE-RQ decoding, and encoders for the
PDUs an SCP sends. Each encoder returns one `bytes` so every PDU leaves in one `transport.write`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dicom_adapter.scp.errors import ProtocolError
from dicom_adapter.scp.status import AbortReason, AbortSource
from dicom_adapter.upper_layer import APPLICATION_CONTEXT, PDU_HEADER, ContextResult, ItemType, PduType

PDV_HEADER = struct.Struct(">IBB")  # item length, presentation context id, message control header
_ITEM_HEADER = struct.Struct(">BxH")  # item type, reserved, item length
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class ProposedContext:
    """One presentation context from an A-ASSOCIATE-RQ."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True)
class AcceptedContext:
    """Our answer to one proposed context; `transfer_syntax` is empty unless accepted."""

    context_id: int
    result: ContextResult
    abstract_syntax: str = ""
    transfer_syntax: str = ""


@dataclass
class AssociateRequest:
    """The parts of an A-ASSOCIATE-RQ the SCP uses."""

    protocol_version: int
    called_ae_title: str
    calling_ae_title: str
    raw_called: bytes  # echoed back in the AC, byte for byte (PS3.8 9.3.3)
    raw_calling: bytes
    application_context: str = ""
    contexts: list[ProposedContext] = field(default_factory=list)
    maximum_length: int = 0  # the peer's max PDU; 0 = unlimited
    implementation_class_uid: str = ""
    implementation_version_name: str = ""


def _uid(value: bytes) -> str:
    return value.decode("ascii", "replace").rstrip("\0 ").strip()


def _items(data: bytes, offset: int = 0) -> list[tuple[int, bytes]]:
    """Split a run of (type, reserved, 2-byte length) items; raise ProtocolError on a bad length."""
    items: list[tuple[int, bytes]] = []
    end = len(data)
    while offset < end:
        if offset + 4 > end:
            raise ProtocolError("truncated item header", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        item_type, length = _ITEM_HEADER.unpack_from(data, offset)
        offset += 4
        if offset + length > end:
            raise ProtocolError(f"item 0x{item_type:02x} overruns its PDU", AbortReason.INVALID_PDU_PARAMETER_VALUE)
        items.append((item_type, data[offset : offset + length]))
        offset += length
    return items


def _presentation_context(body: bytes) -> ProposedContext:
    if len(body) < 4:
        raise ProtocolError("truncated presentation context", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    abstract = ""
    transfers: list[str] = []
    for sub_type, value in _items(body, 4):
        if sub_type == ItemType.ABSTRACT_SYNTAX:
            abstract = _uid(value)
        elif sub_type == ItemType.TRANSFER_SYNTAX:
            transfers.append(_uid(value))
    return ProposedContext(body[0], abstract, tuple(transfers))


def _user_information(request: AssociateRequest, body: bytes) -> None:
    for sub_type, value in _items(body):
        if sub_type == ItemType.MAXIMUM_LENGTH and len(value) == 4:
            request.maximum_length = struct.unpack(">I", value)[0]
        elif sub_type == ItemType.IMPLEMENTATION_CLASS_UID:
            request.implementation_class_uid = _uid(value)
        elif sub_type == ItemType.IMPLEMENTATION_VERSION_NAME:
            request.implementation_version_name = value.decode("ascii", "replace").strip()
        # Asynchronous operations window, role selection, extended negotiation and user identity are
        # not answered: leaving them out of the AC means synchronous operation and default roles.


def decode_associate_rq(body: bytes) -> AssociateRequest:
    """Decode the body (after the 6-byte header) of an A-ASSOCIATE-RQ."""
    if len(body) < 68:
        raise ProtocolError("A-ASSOCIATE-RQ shorter than its fixed fields", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    raw_called, raw_calling = body[4:20], body[20:36]
    request = AssociateRequest(
        protocol_version=struct.unpack_from(">H", body, 0)[0],
        called_ae_title=raw_called.decode("ascii", "replace").strip(),
        calling_ae_title=raw_calling.decode("ascii", "replace").strip(),
        raw_called=raw_called,
        raw_calling=raw_calling,
    )
    for item_type, value in _items(body, 68):
        if item_type == ItemType.APPLICATION_CONTEXT:
            request.application_context = _uid(value)
        elif item_type == ItemType.PRESENTATION_CONTEXT_RQ:
            request.contexts.append(_presentation_context(value))
        elif item_type == ItemType.USER_INFORMATION:
            _user_information(request, value)
    return request


def _item(item_type: int, value: bytes) -> bytes:
    return _ITEM_HEADER.pack(item_type, len(value)) + value


def _ascii(value: str) -> bytes:
    return value.encode("ascii")


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return PDU_HEADER.pack(pdu_type, len(body)) + body


def encode_associate_ac(
    request: AssociateRequest,
    contexts: list[AcceptedContext],
    maximum_length: int,
    implementation_class_uid: str,
    implementation_version_name: str,
) -> bytes:
    """An A-ASSOCIATE-AC answering `request` with our contexts and user information."""
    parts = [
        struct.pack(">HH", PROTOCOL_VERSION, 0),
        request.raw_called,
        request.raw_calling,
        bytes(32),
        _item(ItemType.APPLICATION_CONTEXT, _ascii(APPLICATION_CONTEXT)),
    ]
    for context in contexts:
        # A rejected context still carries a transfer syntax sub-item, whose value is not significant.
        sub = _item(ItemType.TRANSFER_SYNTAX, _ascii(context.transfer_syntax))
        parts.append(_item(ItemType.PRESENTATION_CONTEXT_AC, bytes((context.context_id, 0, context.result, 0)) + sub))
    user = (
        _item(ItemType.MAXIMUM_LENGTH, struct.pack(">I", maximum_length))
        + _item(ItemType.IMPLEMENTATION_CLASS_UID, _ascii(implementation_class_uid))
        + _item(ItemType.IMPLEMENTATION_VERSION_NAME, _ascii(implementation_version_name[:16]))
    )
    parts.append(_item(ItemType.USER_INFORMATION, user))
    return _pdu(PduType.A_ASSOCIATE_AC, b"".join(parts))


def encode_associate_rj(result: int, source: int, reason: int) -> bytes:
    return _pdu(PduType.A_ASSOCIATE_RJ, bytes((0, result, source, reason)))


def encode_release_rp() -> bytes:
    return _pdu(PduType.A_RELEASE_RP, bytes(4))


def encode_abort(source: int = AbortSource.SERVICE_PROVIDER, reason: int = AbortReason.NOT_SPECIFIED) -> bytes:
    return _pdu(PduType.A_ABORT, bytes((0, 0, source, reason)))


def encode_p_data(context_id: int, command: bytes, last: bool = True) -> bytes:
    """One P-DATA-TF holding one command PDV (responses are small: one fragment)."""
    control = 0x01 | (0x02 if last else 0x00)
    return _pdu(PduType.P_DATA_TF, PDV_HEADER.pack(len(command) + 2, context_id, control) + command)
