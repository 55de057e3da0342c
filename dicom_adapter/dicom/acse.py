"""A-ASSOCIATE-RQ and A-ASSOCIATE-AC (PS3.8 9.3.2, 9.3.3), each with its one encoder and one decoder:
the export SCU and C-ECHO encode the RQ and decode the AC, the SCP the other way round.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dicom_adapter.dicom.contexts import AcceptedContext, ProposedContext
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.items import ItemType, ae_title_field, ascii_value, encode_item, split_items, uid_text
from dicom_adapter.dicom.pdu import PduType, encode_pdu
from dicom_adapter.dicom.status import AbortReason
from dicom_adapter.dicom.uids import APPLICATION_CONTEXT

PROTOCOL_VERSION = 1
_FIXED = 68  # protocol version, reserved, called and calling AE titles, 32 reserved bytes
_VERSION = struct.Struct(">HH")
_MAXIMUM_LENGTH = struct.Struct(">I")


@dataclass
class UserInformation:
    """The user-information sub-items we read and write (PS3.7 D.3.3.1-D.3.3.2)."""

    maximum_length: int = 0  # the largest P-DATA-TF the sender accepts; 0 = unlimited
    implementation_class_uid: str = ""
    implementation_version_name: str = ""


@dataclass
class AssociateRequest(UserInformation):
    """The parts of an A-ASSOCIATE-RQ we use."""

    protocol_version: int = PROTOCOL_VERSION
    called_ae_title: str = ""
    calling_ae_title: str = ""
    raw_called: bytes = b""  # echoed back in the AC, byte for byte (PS3.8 9.3.3)
    raw_calling: bytes = b""
    application_context: str = ""
    contexts: list[ProposedContext] = field(default_factory=list)


@dataclass
class AssociateAccept(UserInformation):
    """What we keep from an A-ASSOCIATE-AC: the answer to each context by id, and the peer's max PDU."""

    contexts: dict[int, AcceptedContext] = field(default_factory=dict)


def _encode_user_information(user: UserInformation) -> bytes:
    return encode_item(
        ItemType.USER_INFORMATION,
        encode_item(ItemType.MAXIMUM_LENGTH, _MAXIMUM_LENGTH.pack(user.maximum_length))
        + encode_item(ItemType.IMPLEMENTATION_CLASS_UID, ascii_value(user.implementation_class_uid))
        + encode_item(ItemType.IMPLEMENTATION_VERSION_NAME, ascii_value(user.implementation_version_name[:16])),
    )


def _decode_user_information(user: UserInformation, body: bytes, tolerant: bool) -> None:
    for sub_type, value in split_items(body, tolerant=tolerant):
        if sub_type == ItemType.MAXIMUM_LENGTH and len(value) == 4:
            user.maximum_length = _MAXIMUM_LENGTH.unpack(value)[0]
        elif sub_type == ItemType.IMPLEMENTATION_CLASS_UID:
            user.implementation_class_uid = uid_text(value)
        elif sub_type == ItemType.IMPLEMENTATION_VERSION_NAME:
            user.implementation_version_name = value.decode("ascii", "replace").strip()
        # Asynchronous operations window, role selection, extended negotiation and user identity are
        # neither sent nor answered: without them, operation is synchronous with default roles.


def encode_associate_rq(request: AssociateRequest) -> bytes:
    """The whole A-ASSOCIATE-RQ PDU."""
    parts = [
        _VERSION.pack(request.protocol_version, 0),
        ae_title_field(request.called_ae_title),
        ae_title_field(request.calling_ae_title),
        bytes(32),
        encode_item(ItemType.APPLICATION_CONTEXT, ascii_value(request.application_context or APPLICATION_CONTEXT)),
    ]
    for context in request.contexts:
        sub = encode_item(ItemType.ABSTRACT_SYNTAX, ascii_value(context.abstract_syntax))
        sub += b"".join(encode_item(ItemType.TRANSFER_SYNTAX, ascii_value(ts)) for ts in context.transfer_syntaxes)
        parts.append(encode_item(ItemType.PRESENTATION_CONTEXT_RQ, bytes((context.context_id, 0, 0, 0)) + sub))
    parts.append(_encode_user_information(request))
    return encode_pdu(PduType.A_ASSOCIATE_RQ, b"".join(parts))


def _proposed_context(body: bytes) -> ProposedContext:
    if len(body) < 4:
        raise ProtocolError("truncated presentation context", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    abstract = ""
    transfers: list[str] = []
    for sub_type, value in split_items(body, 4):
        if sub_type == ItemType.ABSTRACT_SYNTAX:
            abstract = uid_text(value)
        elif sub_type == ItemType.TRANSFER_SYNTAX:
            transfers.append(uid_text(value))
    return ProposedContext(body[0], abstract, tuple(transfers))


def decode_associate_rq(body: bytes) -> AssociateRequest:
    """Decode the body (after the 6-byte header) of an A-ASSOCIATE-RQ; ProtocolError when malformed."""
    if len(body) < _FIXED:
        raise ProtocolError("A-ASSOCIATE-RQ shorter than its fixed fields", AbortReason.INVALID_PDU_PARAMETER_VALUE)
    raw_called, raw_calling = body[4:20], body[20:36]
    request = AssociateRequest(
        protocol_version=_VERSION.unpack_from(body, 0)[0],
        called_ae_title=raw_called.decode("ascii", "replace").strip(),
        calling_ae_title=raw_calling.decode("ascii", "replace").strip(),
        raw_called=raw_called,
        raw_calling=raw_calling,
    )
    for item_type, value in split_items(body, _FIXED):
        if item_type == ItemType.APPLICATION_CONTEXT:
            request.application_context = uid_text(value)
        elif item_type == ItemType.PRESENTATION_CONTEXT_RQ:
            request.contexts.append(_proposed_context(value))
        elif item_type == ItemType.USER_INFORMATION:
            _decode_user_information(request, value, tolerant=False)
    return request


def encode_associate_ac(request: AssociateRequest, contexts: list[AcceptedContext], user: UserInformation) -> bytes:
    """An A-ASSOCIATE-AC answering `request` with our contexts and user information."""
    parts = [
        _VERSION.pack(PROTOCOL_VERSION, 0),
        request.raw_called or ae_title_field(request.called_ae_title),
        request.raw_calling or ae_title_field(request.calling_ae_title),
        bytes(32),
        encode_item(ItemType.APPLICATION_CONTEXT, ascii_value(APPLICATION_CONTEXT)),
    ]
    for context in contexts:
        # A rejected context still carries a transfer syntax sub-item, whose value is not significant.
        sub = encode_item(ItemType.TRANSFER_SYNTAX, ascii_value(context.transfer_syntax))
        fields = bytes((context.context_id, 0, context.result, 0))
        parts.append(encode_item(ItemType.PRESENTATION_CONTEXT_AC, fields + sub))
    parts.append(_encode_user_information(user))
    return encode_pdu(PduType.A_ASSOCIATE_AC, b"".join(parts))


def _accepted_context(body: bytes) -> AcceptedContext:
    if len(body) < 4:
        raise ProtocolError("malformed A-ASSOCIATE-AC: truncated presentation context item")
    syntax = ""
    for sub_type, value in split_items(body, 4, tolerant=True):
        if sub_type == ItemType.TRANSFER_SYNTAX:
            syntax = uid_text(value)
    return AcceptedContext(context_id=body[0], result=body[2], transfer_syntax=syntax)


def decode_associate_ac(body: bytes) -> AssociateAccept:
    """Decode the body (after the 6-byte header) of an A-ASSOCIATE-AC. Tolerant of trailing bytes (see
    `split_items`); ProtocolError only for a presentation context item too short to hold its fields."""
    accept = AssociateAccept()
    for item_type, value in split_items(body, _FIXED, tolerant=True):
        if item_type == ItemType.PRESENTATION_CONTEXT_AC:
            context = _accepted_context(value)
            accept.contexts[context.context_id] = context
        elif item_type == ItemType.USER_INFORMATION:
            _decode_user_information(accept, value, tolerant=True)
    return accept
