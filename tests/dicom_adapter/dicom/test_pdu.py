"""PDUs of both directions decode with pynetdicom (an independent implementation), and ours with ours."""

from __future__ import annotations

import struct

import pytest
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ, P_DATA_TF

from dicom_adapter.dicom.acse import (
    AssociateRequest,
    UserInformation,
    decode_associate_ac,
    decode_associate_rq,
    encode_associate_ac,
    encode_associate_rq,
)
from dicom_adapter.dicom.contexts import AcceptedContext, ContextResult, ProposedContext
from dicom_adapter.dicom.dimse import decode_command, encode_c_store_rq
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.pdu import (
    COMMAND,
    LAST,
    encode_abort,
    encode_associate_rj,
    encode_p_data,
    encode_release_rp,
    iter_pdvs,
    pdv_header,
)
from tests.dicom_adapter.scp import rawclient as raw


def _request(**kwargs):
    data = raw.associate_rq(
        "CLARA", "STORESCU", [(1, raw.CT_IMAGE_STORAGE, [raw.EXPLICIT_VR_LE, raw.IMPLICIT_VR_LE])], **kwargs
    )
    return decode_associate_rq(data[6:])


def test_decode_associate_rq_reads_titles_contexts_and_max_length():
    request = _request(max_pdu=32768)
    assert (request.called_ae_title, request.calling_ae_title) == ("CLARA", "STORESCU")
    assert request.contexts[0].context_id == 1
    assert request.contexts[0].abstract_syntax == raw.CT_IMAGE_STORAGE
    assert request.contexts[0].transfer_syntaxes == (raw.EXPLICIT_VR_LE, raw.IMPLICIT_VR_LE)
    assert request.maximum_length == 32768
    assert request.implementation_class_uid == "1.2.3.4"


def test_decode_associate_rq_agrees_with_pynetdicom():
    data = raw.associate_rq("CLARA", "STORESCU", [(1, raw.CT_IMAGE_STORAGE, [raw.EXPLICIT_VR_LE])])
    theirs = A_ASSOCIATE_RQ()
    theirs.decode(data)
    ours = decode_associate_rq(data[6:])
    assert theirs.called_ae_title == ours.called_ae_title
    assert theirs.calling_ae_title == ours.calling_ae_title


def test_decode_associate_rq_rejects_an_item_overrunning_the_pdu():
    data = bytearray(raw.associate_rq("CLARA", "STORESCU", [(1, raw.CT_IMAGE_STORAGE, [raw.EXPLICIT_VR_LE])]))
    struct.pack_into(">H", data, 6 + 68 + 2, 60000)  # application context item length
    with pytest.raises(ProtocolError, match="overruns"):
        decode_associate_rq(bytes(data[6:]))


def test_decode_associate_rq_rejects_a_short_pdu():
    with pytest.raises(ProtocolError, match="shorter"):
        decode_associate_rq(b"\x00\x01")


def test_associate_ac_decodes_with_pynetdicom():
    request = _request()
    contexts = [
        AcceptedContext(1, ContextResult.ACCEPTANCE, raw.CT_IMAGE_STORAGE, raw.EXPLICIT_VR_LE),
        AcceptedContext(3, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED),
    ]
    pdu = A_ASSOCIATE_AC()
    pdu.decode(encode_associate_ac(request, contexts, UserInformation(1 << 22, "1.2.3.4.5", "OPENCLARA_1")))
    assert pdu.called_ae_title == "CLARA"
    items = pdu.presentation_context
    assert [(c.context_id, c.result) for c in items] == [(1, 0), (3, 3)]
    assert items[0].transfer_syntax == raw.EXPLICIT_VR_LE
    assert pdu.user_information.maximum_length == 1 << 22
    assert pdu.user_information.implementation_class_uid == "1.2.3.4.5"


def test_rj_rp_abort_and_p_data_decode_with_pynetdicom():
    rj = A_ASSOCIATE_RJ()
    rj.decode(encode_associate_rj(1, 1, 7))
    assert (rj.result, rj.source, rj.reason_diagnostic) == (1, 1, 7)
    assert encode_release_rp() == bytes((6, 0, 0, 0, 0, 4, 0, 0, 0, 0))
    abort = A_ABORT_RQ()
    abort.decode(encode_abort(2, 6))
    assert (abort.source, abort.reason_diagnostic) == (2, 6)
    p_data = P_DATA_TF()
    p_data.decode(encode_p_data(5, b"\x01\x02"))
    assert p_data.presentation_data_value_items[0].presentation_context_id == 5
    assert p_data.presentation_data_value_items[0].presentation_data_value == b"\x03\x01\x02"


def test_associate_rq_decodes_with_pynetdicom():
    contexts = [ProposedContext(1, "1.2.840.10008.5.1.4.1.1.2", ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"))]
    request = AssociateRequest(called_ae_title="ORTHANC", calling_ae_title="ClaraSCU", contexts=contexts)
    encoded = encode_associate_rq(request)
    decoded = A_ASSOCIATE_RQ()
    decoded.decode(encoded)
    assert decoded.calling_ae_title == "ClaraSCU"
    assert decoded.called_ae_title == "ORTHANC"
    [context] = decoded.presentation_context
    assert context.context_id == 1
    assert context.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"
    assert context.transfer_syntax == ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]


def test_associate_ac_round_trips_through_our_decoder():
    request = _request()
    contexts = [
        AcceptedContext(1, ContextResult.ACCEPTANCE, raw.CT_IMAGE_STORAGE, raw.EXPLICIT_VR_LE),
        AcceptedContext(3, ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED),
    ]
    accept = decode_associate_ac(encode_associate_ac(request, contexts, UserInformation(32768, "1.2.3", "X"))[6:])
    assert accept.maximum_length == 32768
    assert accept.contexts[1].accepted and accept.contexts[1].transfer_syntax == raw.EXPLICIT_VR_LE
    assert accept.contexts[3].result == ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED


def test_associate_ac_tolerates_trailing_bytes_but_not_a_short_context_item():
    accept = decode_associate_ac(bytes(68) + b"\x21\x00\x00\x04\x01\x00\x00\x00" + b"\x50")
    assert accept.contexts[1].accepted
    with pytest.raises(ProtocolError, match="truncated presentation context"):
        decode_associate_ac(bytes(68) + b"\x21\x00\x00\x02\x01\x00")


def test_pdv_header_and_command_decode_with_pynetdicom():
    command = encode_c_store_rq(7, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4")
    decoded = P_DATA_TF()
    decoded.decode(pdv_header(len(command), 3, COMMAND | LAST) + command)
    [item] = decoded.presentation_data_value_items
    assert item.presentation_context_id == 3
    fields = decode_command(item.data[1:])
    assert fields.affected_sop_instance_uid == "1.2.3.4"
    assert fields.message_id == 7


def test_iter_pdvs_refuses_a_pdv_that_overruns_its_pdu():
    body = encode_p_data(1, b"abcd")[6:]
    assert iter_pdvs(body) == [(1, COMMAND | LAST, b"abcd")]
    with pytest.raises(ProtocolError, match="does not fit"):
        iter_pdvs(body[:-1])
