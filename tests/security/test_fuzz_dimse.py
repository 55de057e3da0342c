"""Fuzzing the DIMSE command-set codec of the one DICOM layer (dicom_adapter/dicom/dimse.py, PS3.7 9.3, E.1),
which reads requests in the SCP and responses in the export SCU and C-ECHO. A command set from a peer
decodes or raises the layer's ProtocolError, never another exception; every request and response an
encoder writes decodes to the same values.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dicom_adapter.dicom.dimse import (
    ERROR_COMMENT,
    Command,
    CommandField,
    command_elements,
    decode_command,
    encode_c_echo_rq,
    encode_c_store_rq,
    encode_response,
)
from dicom_adapter.dicom.errors import ProtocolError
from dicom_adapter.dicom.uids import VERIFICATION
from tests.security.fuzzing import UID, fuzzed

stores = st.tuples(st.integers(0, 0xFFFF), UID, UID)
commands = st.builds(
    Command,
    command_field=st.sampled_from((CommandField.C_STORE_RQ, CommandField.C_ECHO_RQ)),
    message_id=st.integers(0, 0xFFFF),
    affected_sop_class_uid=UID,
    affected_sop_instance_uid=UID | st.just(""),
    has_data_set=st.booleans(),
)
responses = st.tuples(commands, st.integers(0, 0xFFFF), st.text(max_size=80))


@given(stores)
def test_c_store_rq_decodes_to_the_values_encoded(store):
    message_id, sop_class_uid, sop_instance_uid = store
    decoded = decode_command(encode_c_store_rq(message_id, sop_class_uid, sop_instance_uid))
    assert decoded == Command(CommandField.C_STORE_RQ, message_id, sop_class_uid, sop_instance_uid, True)


@given(fuzzed(stores.map(lambda s: encode_c_store_rq(*s))))
def test_command_decoder_raises_only_protocol_error(data):
    try:
        command = decode_command(data)
    except ProtocolError:
        return
    assert 0 <= command.command_field <= 0xFFFF and 0 <= command.message_id <= 0xFFFF


@given(st.integers(0, 0xFFFF))
def test_c_echo_rq_decodes_to_the_values_encoded(message_id):
    decoded = decode_command(encode_c_echo_rq(message_id))
    assert decoded == Command(CommandField.C_ECHO_RQ, message_id, VERIFICATION, "", False)


@given(responses)
def test_response_decodes_to_the_values_encoded(response):
    request, status, comment = response
    encoded = encode_response(request, status, comment)
    decoded = decode_command(encoded)
    assert decoded.command_field == request.command_field | 0x8000
    assert decoded.message_id_being_responded_to == request.message_id
    assert decoded.status == status
    assert not decoded.has_data_set
    assert decoded.affected_sop_class_uid == request.affected_sop_class_uid
    assert decoded.affected_sop_instance_uid == request.affected_sop_instance_uid
    expected_comment = comment.encode("ascii", "replace")[:64].decode().rstrip("\0 ")
    assert command_elements(encoded).get(ERROR_COMMENT, b"").decode().rstrip("\0 ") == expected_comment


@given(fuzzed(responses.map(lambda r: encode_response(*r))))
def test_response_decoder_raises_only_protocol_error(data):
    try:
        decoded = decode_command(data)
    except ProtocolError:
        return
    assert decoded.status is None or 0 <= decoded.status <= 0xFFFF
