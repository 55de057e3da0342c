"""Fuzzing the DIMSE command-set codecs (PS3.7 9.3, E.1): the SCP's request decoder (scp/dimse.py) and the
export SCU's response reader (export/dimse.py). A command set from a peer decodes or raises ProtocolError
(SCP); the SCU's reader never raises. The C-STORE-RQ the SCU writes decodes in the SCP, and the response
the SCP writes reads back in the SCU, to the same values.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dicom_adapter.export import dimse as scu_dimse
from dicom_adapter.scp.dimse import Command, CommandField, decode_command, encode_response
from dicom_adapter.scp.errors import ProtocolError
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
def test_c_store_rq_from_the_scu_decodes_in_the_scp_to_the_same_values(store):
    message_id, sop_class_uid, sop_instance_uid = store
    decoded = decode_command(scu_dimse.encode_c_store_rq(message_id, sop_class_uid, sop_instance_uid))
    assert decoded == Command(CommandField.C_STORE_RQ, message_id, sop_class_uid, sop_instance_uid, True)


@given(fuzzed(stores.map(lambda s: scu_dimse.encode_c_store_rq(*s))))
def test_scp_command_decoder_raises_only_protocol_error(data):
    try:
        command = decode_command(data)
    except ProtocolError:
        return
    assert 0 <= command.command_field <= 0xFFFF and 0 <= command.message_id <= 0xFFFF


@given(responses)
def test_response_from_the_scp_reads_back_in_the_scu(response):
    request, status, comment = response
    fields = scu_dimse.decode_command(encode_response(request, status, comment))
    assert scu_dimse.command_us(fields, 0x0100) == request.command_field | 0x8000
    assert scu_dimse.command_us(fields, 0x0120) == request.message_id
    assert scu_dimse.command_us(fields, 0x0900) == status
    assert scu_dimse.command_us(fields, 0x0800) == 0x0101  # no data set follows
    assert scu_dimse.command_text(fields, 0x0002) == request.affected_sop_class_uid
    assert scu_dimse.command_text(fields, 0x1000) == request.affected_sop_instance_uid
    expected_comment = comment.encode("ascii", "replace")[:64].decode().rstrip("\0 ")
    assert scu_dimse.command_text(fields, 0x0902) == expected_comment


@given(fuzzed(responses.map(lambda r: encode_response(*r))))
def test_scu_response_reader_never_raises(data):
    fields = scu_dimse.decode_command(data)
    for element in (0x0100, 0x0120, 0x0900):
        status = scu_dimse.command_us(fields, element)
        assert status is None or 0 <= status <= 0xFFFF
    assert isinstance(scu_dimse.command_text(fields, 0x0902), str)
